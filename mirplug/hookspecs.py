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

The lifecycle hooks (``mirplug_run_start``, ``mirplug_epoch_end``, ``mirplug_evaluation_end``,
``mirplug_run_metrics``, ``mirplug_run_end``) let a plugin watch a run and add to it. A plugin
module that implements them takes part in every run; a *logger* (an experiment tracker, see
``mirplug_register_loggers``) takes part only in the runs that choose it with ``logger=NAME``.
pluggy's ordering (``@hookimpl(tryfirst=True)``, ``trylast``) and wrappers (``@hookimpl(wrapper=True)``)
work as usual. A lifecycle hook that raises does not stop the run: the error is printed as one
warning line naming the plugin and the hook (once per plugin and hook in a run), and the other
plugins' implementations still run. Arguments are plain values (dicts, lists, paths), never
mirplug objects, so they stay the same across releases.

Internal module: plugin authors import ``hookimpl`` from :mod:`mirplug`, which is the stable API;
everything else here may change in any release.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import typer

    from pathlib import Path
    from typing import Any

    from mirplug.specs import AugmenterSpec, BackboneSpec, DatasetSpec, LoggerSpec, RepresentationSpec, TaskSpec

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


# --------------------------------------------------------------------------------------
# Loggers (experiment trackers)
# --------------------------------------------------------------------------------------
@hookspec
def mirplug_register_loggers() -> list[LoggerSpec]:  # type: ignore[empty-body]
    """Return the loggers (experiment trackers) this plugin provides.

    Called once when the catalog is built. A logger is chosen for a run with ``logger=NAME``
    (several: ``logger=tensorboard,mlflow``; options: ``logger.NAME.OPTION=value``). Its factory
    returns an object implementing lifecycle hooks; it is registered for that run only.
    Example::

        @hookimpl
        def mirplug_register_loggers():
            return [LoggerSpec(name="csvlog", summary="per-epoch losses to a CSV file",
                               factory="pkg.csvlog:CsvLogger",
                               options=(Option(name="file", type=str, default="epochs.csv"),))]

        class CsvLogger:
            def __init__(self, file="epochs.csv"):
                self.file = file

            @hookimpl
            def mirplug_epoch_end(self, run_folder, epoch, train, validation):
                with open(run_folder / self.file, "a") as out:
                    out.write(f"{epoch},{train['loss']},{validation['loss']}\n")
    """


# --------------------------------------------------------------------------------------
# Lifecycle of a run
# --------------------------------------------------------------------------------------
@hookspec
def mirplug_run_start(config: dict[str, Any], run_folder: Path) -> None:
    """A run starts: its folder exists and holds ``config.yaml``; no data is decoded yet.

    Called once per run (again when an interrupted run is resumed with ``--resume``), after every
    component was built and checked. ``config`` is the resolved config as plain data (what
    ``config.yaml`` holds); ``run_folder`` is the run's folder. Return nothing. Example::

        @hookimpl
        def mirplug_run_start(config, run_folder):
            print(f"run of task {config['task']['name']} in {run_folder}")
    """


@hookspec
def mirplug_epoch_end(run_folder: Path, fold: int, epoch: int, train: dict[str, float],
                      validation: dict[str, float]) -> None:
    """A training epoch ended and the validation split was scored.

    Called after every epoch of every fold (``fold`` is 1 without k-fold; epochs count from 1 in
    each fold). ``train`` holds the mean training ``loss``; ``validation`` its ``loss`` and the
    task's main metric under its name (e.g. ``macro_f1``). The values are those of ``history.csv``.
    Return nothing. Example::

        @hookimpl
        def mirplug_epoch_end(epoch, train, validation):
            print(f"epoch {epoch}: train loss {train['loss']:.3f}, validation {validation}")
    """


@hookspec
def mirplug_evaluation_end(run_folder: Path, fold: int, metrics: dict[str, Any],
                           predictions: list[dict[str, Any]]) -> None:
    """A fold's model was scored once on its test split (after its best weights were restored).

    ``metrics`` are the fold's metrics (the test scores, ``validation`` scores, counts, epochs);
    ``predictions`` one row per test clip, as in ``predictions.csv`` (``id``, ``label`` and the
    task's prediction columns). Called once the fold's files (``predictions.csv``, the plots, the
    model) are written: in ``run_folder``, or in ``run_folder / f"fold-{fold}"`` with k-fold.
    Return nothing. Example::

        @hookimpl
        def mirplug_evaluation_end(fold, metrics, predictions):
            print(f"fold {fold}: {len(predictions)} test clips, accuracy {metrics.get('accuracy')}")
    """


@hookspec
def mirplug_run_metrics(run_folder: Path, metrics: dict[str, Any]) -> dict[str, Any] | None:
    """Add metrics of your own to the run's ``metrics.json``.

    Called once per run, when every fold is done and before ``metrics.json`` is written, with the
    run's metrics (read them, do not change them). Return a JSON-serialisable dict (or ``None``):
    it is stored under ``metrics["plugins"][PLUGIN]``, ``PLUGIN`` being the name the plugin is
    registered under (its entry-point name, or ``logger:NAME`` for a logger), so plugins never
    overwrite each other's or mirplug's keys. Implementations are called one at a time, in
    pluggy's order, so that each result is filed under its plugin; wrappers do not apply to this
    hook. Example::

        @hookimpl
        def mirplug_run_metrics(metrics):
            return {"error_rate": 1.0 - metrics["accuracy"]}
    """


@hookspec
def mirplug_run_end(run_folder: Path, metrics: dict[str, Any], status: str) -> None:
    """A run ended.

    ``status`` is ``"finished"`` (``metrics.json`` and ``run.json`` are written; ``metrics`` is
    what ``metrics.json`` holds), ``"failed"`` (an error stops the run; ``metrics`` is empty) or
    ``"interrupted"`` (Ctrl-C; the run can be resumed). Called once per run, so a tracker can
    close what it opened. Return nothing. Example::

        @hookimpl
        def mirplug_run_end(run_folder, metrics, status):
            print(f"{run_folder}: {status}, macro F1 {metrics.get('macro_f1')}")
    """


LIFECYCLE_HOOKS: tuple[str, ...] = ("mirplug_run_start", "mirplug_epoch_end", "mirplug_evaluation_end",
                                    "mirplug_run_metrics", "mirplug_run_end")

REGISTER_HOOKS: dict[str, str] = {
    "representation": "mirplug_register_representations",
    "backbone": "mirplug_register_backbones",
    "augmenter": "mirplug_register_augmenters",
    "task": "mirplug_register_tasks",
    "dataset": "mirplug_register_datasets",
    "logger": "mirplug_register_loggers",
}
