"""Every hook a mirplug plugin can implement, in one place.

A plugin is a module (or object) registered under the ``mirplug`` entry-point group::

    # pyproject.toml of a plugin
    [project.entry-points.mirplug]
    myfeat = "mirplug_myfeat"

and implements any of the hooks below with :data:`hookimpl`::

    from mirplug import RepresentationSpec, hookimpl

    @hookimpl
    def mirplug_register_representations():
        return [RepresentationSpec(name="myfeat", summary="...", factory="mirplug_myfeat.rep:MyFeat")]

Each ``mirplug_register_*`` hook is called once when the catalog is built; it returns a
list of specs and must not import heavy modules (the factory is imported lazily).

Internal module: plugin authors import ``hookimpl`` from :mod:`mirplug`, which is the stable API;
everything else here may change in any release.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import typer

    from mirplug.specs import AugmenterSpec, BackboneSpec, DatasetSpec, RepresentationSpec, TaskSpec

PROJECT = "mirplug"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --------------------------------------------------------------------------------------
# Representations
# --------------------------------------------------------------------------------------
@hookspec
def mirplug_register_representations() -> list[RepresentationSpec]:  # type: ignore[empty-body]
    """Return the representations this plugin provides.

    Called once when the catalog is built. Example::

        @hookimpl
        def mirplug_register_representations():
            return [RepresentationSpec(name="mel", summary="log-mel spectrogram",
                                       factory="pkg.mel:LogMel",
                                       options=(Option(name="n_mels", type=int, default=64),))]
    """


# --------------------------------------------------------------------------------------
# Backbones
# --------------------------------------------------------------------------------------
@hookspec
def mirplug_register_backbones() -> list[BackboneSpec]:  # type: ignore[empty-body]
    """Return the backbones this plugin provides.

    Called once when the catalog is built. Example::

        @hookimpl
        def mirplug_register_backbones():
            return [BackboneSpec(name="cnn", summary="small CNN over log-mel",
                                 factory="pkg.cnn:SmallCNN")]
    """


# --------------------------------------------------------------------------------------
# Augmenters
# --------------------------------------------------------------------------------------
@hookspec
def mirplug_register_augmenters() -> list[AugmenterSpec]:  # type: ignore[empty-body]
    """Return the augmenters (transforms and generators) this plugin provides.

    Called once when the catalog is built. Example::

        @hookimpl
        def mirplug_register_augmenters():
            return [AugmenterSpec(name="gain", summary="random gain", stage="waveform",
                                  factory="pkg.gain:Gain")]
    """


# --------------------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------------------
@hookspec
def mirplug_register_tasks() -> list[TaskSpec]:  # type: ignore[empty-body]
    """Return the tasks this plugin provides.

    Called once when the catalog is built. Example::

        @hookimpl
        def mirplug_register_tasks():
            return [TaskSpec(name="genre", summary="single-label genre classification",
                             factory="pkg.genre:GenreTask", label_kind="single-label",
                             metrics=("accuracy", "macro_f1"), default_dataset="synthetic")]
    """


# --------------------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------------------
@hookspec
def mirplug_register_datasets() -> list[DatasetSpec]:  # type: ignore[empty-body]
    """Return the datasets this plugin provides.

    Called once when the catalog is built. Example::

        @hookimpl
        def mirplug_register_datasets():
            return [DatasetSpec(name="audiofolder", summary="one sub-folder per label",
                                factory="pkg.audiofolder:load",
                                options=(Option(name="path", type=str, default=None),))]
    """


# --------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------
@hookspec
def mirplug_register_commands(app: typer.Typer) -> None:
    """Add command-line commands to ``mirplug``.

    Called when the ``mirplug`` command starts, with a Typer app that belongs to this
    plugin alone; its commands (and sub-apps) are then added to ``mirplug``. A command whose
    name a built-in command (or an earlier plugin) already uses is skipped with a warning
    naming the plugin. Keep the hook light: import heavy modules inside the command
    function, not at module level, so ``mirplug --help`` stays fast. Example::

        @hookimpl
        def mirplug_register_commands(app):
            @app.command("hello")
            def hello(name: str = "world") -> None:
                \"\"\"Say hello.\"\"\"
                print(f"hello {name}")
    """


REGISTER_HOOKS: dict[str, str] = {
    "representation": "mirplug_register_representations",
    "backbone": "mirplug_register_backbones",
    "augmenter": "mirplug_register_augmenters",
    "task": "mirplug_register_tasks",
    "dataset": "mirplug_register_datasets",
}
