"""Loading plugins from the ``mirplug`` entry-point group, each in isolation.

Built-in plugins (shipped in the ``mirplug`` distribution) load through the same entry
points as third-party ones. A plugin that fails to import, misnames a hook or whose hook
raises is recorded as a :class:`PluginFailure` and left out; every other plugin keeps
working. There is no global manager: call :func:`load_plugins` for a fresh one.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from mirplug import hookspecs
from mirplug.hookspecs import PROJECT

ENTRY_POINT_GROUP = "mirplug"
CORE_DISTRIBUTION = "mirplug"


@dataclass
class PluginInfo:
    """A plugin that loaded: its entry-point name, distribution and hooks."""

    name: str
    distribution: str
    version: str
    builtin: bool
    hooks: list[str] = field(default_factory=list)


@dataclass
class PluginFailure:
    """A plugin that did not load (or whose hook raised), with the error to show."""

    name: str
    distribution: str
    version: str
    stage: str
    error: str

    def line(self) -> str:
        """One warning line for the terminal."""
        return (
            f"plugin '{self.name}' from {self.distribution} {self.version} failed ({self.stage}): "
            f"{self.error}"
        )


@dataclass
class PluginHost:
    """A fresh pluggy manager plus what loaded and what failed."""

    manager: pluggy.PluginManager
    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)

    def register(self, obj: Any, name: str, distribution: str = "local", version: str = "") -> bool:
        """Register a plugin object; a misnamed hook is recorded as a failure, not raised."""
        try:
            self.manager.register(obj, name=name)
        except Exception as exc:
            self.failures.append(PluginFailure(name, distribution, version, "register", _short(exc)))
            return False
        try:
            # A misspelt hook name would otherwise be ignored silently.
            self.manager.check_pending()
        except pluggy.PluginValidationError as exc:
            self.manager.unregister(obj)
            self.failures.append(
                PluginFailure(name, distribution, version, "validation", _pending_message(exc, name))
            )
            return False
        unmarked = _unmarked_hooks(obj)
        if unmarked:
            # pluggy ignores functions without the marker, so the plugin would silently do nothing
            self.manager.unregister(obj)
            self.failures.append(PluginFailure(
                name, distribution, version, "validation",
                f"plugin '{name}' defines {', '.join(unmarked)} without @hookimpl; decorate it with "
                f"'from mirplug import hookimpl'"))
            return False
        hooks = sorted(impl.name for impl in _hooks_of(self.manager, obj))
        self.plugins[name] = PluginInfo(
            name, distribution, version, distribution == CORE_DISTRIBUTION, hooks
        )
        trace(f"registered plugin '{name}' from {distribution} {version}: hooks {', '.join(hooks) or '(none)'}")
        return True


def trace(message: str) -> None:
    """Print one ``[trace]`` line on stderr when ``MIRPLUG_TRACE_PLUGINS`` is set.

    Hooks are called one implementation at a time (to isolate failures), so pluggy's own
    tracing never sees them; this is the trace instead. stderr keeps ``--json`` output clean.
    """
    if os.environ.get("MIRPLUG_TRACE_PLUGINS", "") not in ("", "0"):
        print(f"[trace] {message}", file=sys.stderr)


def _unmarked_hooks(obj: Any) -> list[str]:
    """Functions named like a hook (``mirplug_*``) that lack the ``@hookimpl`` marker."""
    found = []
    for attribute in dir(obj):
        if not attribute.startswith("mirplug_"):
            continue
        value = getattr(obj, attribute, None)
        if callable(value) and not hasattr(value, f"{PROJECT}_impl"):
            found.append(attribute)
    return sorted(found)


def _hooks_of(manager: pluggy.PluginManager, obj: Any) -> Iterable[Any]:
    for caller in manager.get_hookcallers(obj) or []:
        yield caller


def _pending_message(exc: pluggy.PluginValidationError, plugin: str) -> str:
    text = str(exc)
    if "unknown hook" in text:
        hook = text.split("unknown hook", 1)[1].strip().split()[0].strip("'\"")
        known = ", ".join(hook_names())
        return f"plugin '{plugin}' implements unknown hook '{hook}'; known hooks: {known}"
    return text


def hook_names() -> list[str]:
    """The name of every hook a plugin may implement, sorted."""
    return sorted(name for name in dir(hookspecs) if name.startswith("mirplug_"))


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip().splitlines()[0]


def new_manager() -> pluggy.PluginManager:
    """A fresh plugin manager with mirplug's hook specs."""
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(hookspecs)
    return manager


def _selected(name: str, builtin: bool) -> bool:
    """Honour ``MIRPLUG_LOAD_PLUGINS=a,b`` (empty: built-ins only)."""
    wanted = os.environ.get("MIRPLUG_LOAD_PLUGINS")
    if wanted is None or builtin:
        return True
    return name in {item.strip() for item in wanted.split(",") if item.strip()}


def load_plugins(entry_points: Iterable[metadata.EntryPoint] | None = None) -> PluginHost:
    """Load every plugin of the ``mirplug`` entry-point group into a fresh manager."""
    host = PluginHost(new_manager())
    if entry_points is None:
        entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
    for entry_point in entry_points:
        dist = entry_point.dist
        distribution = dist.metadata["Name"] if dist is not None else "unknown"
        version = dist.version if dist is not None else ""
        builtin = distribution == CORE_DISTRIBUTION
        if not _selected(entry_point.name, builtin):
            continue
        if entry_point.name in host.plugins:
            continue  # the same distribution seen twice on sys.path
        try:
            obj = entry_point.load()
        except Exception as exc:
            host.failures.append(
                PluginFailure(entry_point.name, distribution, version, "import", _short(exc))
            )
            if os.environ.get("MIRPLUG_DEBUG"):
                traceback.print_exc()
            continue
        host.register(obj, entry_point.name, distribution, version)
    return host
