"""mirplug: a plugin-based framework for music information retrieval with deep learning.

**The plugin API.** What a plugin author may rely on is what this module exports (its
``__all__``) and :mod:`mirplug.testing`::

    from mirplug import hookimpl, Option, RepresentationSpec, Representation, ConfigError

Every other module (``mirplug.runner``, ``mirplug.cache``, ...) is internal: it says so in its
docstring and may change in any release. :data:`PLUGIN_API_VERSION` is ``"MAJOR.MINOR"``: a minor
release only adds (names, optional spec fields, base-class methods with a default, hooks); a name
that is going away keeps working for at least one minor release and warns with a
``DeprecationWarning`` first; only a major release removes or changes what is here (CONTRIBUTING.md,
"Compatibility").

The names are imported on first use (PEP 562), so ``import mirplug`` stays light: the base classes
(``Representation``, ``Backbone``, ...) import torch, the specs and ``hookimpl`` do not, and
``mirplug --help`` never pays for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

PLUGIN_API_VERSION = "1.0"
"""The version of the plugin API (``"MAJOR.MINOR"``); see the compatibility rule above."""

# name -> the internal module that defines it; imported when the name is first asked for.
_PUBLIC: dict[str, str] = {
    # hooks
    "hookimpl": "mirplug.hookspecs",
    # specs: what a register hook returns
    "Option": "mirplug.specs",
    "ComponentSpec": "mirplug.specs",
    "RepresentationSpec": "mirplug.specs",
    "BackboneSpec": "mirplug.specs",
    "AugmenterSpec": "mirplug.specs",
    "TaskSpec": "mirplug.specs",
    "DatasetSpec": "mirplug.specs",
    "LoggerSpec": "mirplug.specs",
    # base classes of the component kinds (these import torch)
    "Representation": "mirplug.components",
    "Backbone": "mirplug.components",
    "Transform": "mirplug.components",
    "Generator": "mirplug.components",
    "EmbeddingGenerator": "mirplug.components",
    "Task": "mirplug.components",
    # errors a component raises
    "MirplugError": "mirplug.errors",
    "ConfigError": "mirplug.errors",
    "DataError": "mirplug.errors",
    "PluginError": "mirplug.errors",
    "UnknownComponentError": "mirplug.errors",
    # what a dataset plugin needs from the core: files it reads, where to keep what it makes, made once
    "AUDIO_EXTENSIONS": "mirplug.audio",
    "cache_dir": "mirplug.paths",
    "build_once": "mirplug.publish",
    "publish": "mirplug",  # the module: the whole protocol of results several processes compute at once
    "worker_pool": "mirplug.workers",
    # a plugin that builds other installed components by name (e.g. a fusion of backbones)
    "component_lookup": "mirplug.catalog",
}

__all__ = [
    "PLUGIN_API_VERSION",
    "__version__",
    "hookimpl",
    "Option",
    "ComponentSpec",
    "RepresentationSpec",
    "BackboneSpec",
    "AugmenterSpec",
    "TaskSpec",
    "DatasetSpec",
    "LoggerSpec",
    "Representation",
    "Backbone",
    "Transform",
    "Generator",
    "EmbeddingGenerator",
    "Task",
    "MirplugError",
    "ConfigError",
    "DataError",
    "PluginError",
    "UnknownComponentError",
    "AUDIO_EXTENSIONS",
    "cache_dir",
    "build_once",
    "publish",
    "worker_pool",
    "component_lookup",
]  # the version names plus every key of _PUBLIC (tests/test_public_api.py)

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names come from __getattr__
    from mirplug import publish
    from mirplug.audio import AUDIO_EXTENSIONS
    from mirplug.catalog import component_lookup
    from mirplug.components import Backbone, EmbeddingGenerator, Generator, Representation, Task, Transform
    from mirplug.errors import ConfigError, DataError, MirplugError, PluginError, UnknownComponentError
    from mirplug.hookspecs import hookimpl
    from mirplug.paths import cache_dir
    from mirplug.publish import build_once
    from mirplug.workers import worker_pool
    from mirplug.specs import (
        AugmenterSpec,
        BackboneSpec,
        ComponentSpec,
        DatasetSpec,
        LoggerSpec,
        Option,
        RepresentationSpec,
        TaskSpec,
    )


def __getattr__(name: str) -> Any:
    """Import a public name on first use (``from mirplug import Backbone`` imports torch then, not before)."""
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'mirplug' has no attribute '{name}'")
    value = (importlib.import_module(f"mirplug.{name}") if module == "mirplug"  # a public submodule
             else getattr(importlib.import_module(module), name))
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
