"""The catalog: every component from every plugin, found by kind and name.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from mirplug.errors import UnknownComponentError, choices_text, did_you_mean
from mirplug.hookspecs import REGISTER_HOOKS
from mirplug.plugins import PluginFailure, PluginHost, load_plugins, trace
from mirplug.specs import DATA_OPTIONS, KINDS, SPEC_CLASSES, ComponentSpec


@dataclass(frozen=True)
class Entry:
    """A spec and the plugin that registered it."""

    spec: ComponentSpec
    plugin: str


@dataclass
class Catalog:
    """Components by kind and name; built from a :class:`PluginHost`."""

    host: PluginHost
    entries: dict[str, dict[str, list[Entry]]] = field(default_factory=dict)

    @classmethod
    def from_host(cls, host: PluginHost) -> Catalog:
        """Call every registration hook of every plugin, each call isolated."""
        catalog = cls(host, {kind: {} for kind in KINDS})
        for kind, hook_name in REGISTER_HOOKS.items():
            caller = getattr(host.manager.hook, hook_name)
            for impl in caller.get_hookimpls():
                plugin = host.manager.get_name(impl.plugin) or "?"
                try:
                    specs = impl.function() or []
                    for spec in specs:
                        expected = SPEC_CLASSES[kind]
                        if not isinstance(spec, expected):
                            raise TypeError(f"{hook_name} returned {type(spec).__name__}, not {expected.__name__}")
                    trace(f"{plugin}.{hook_name}() -> [{', '.join(s.name for s in specs)}]")
                except Exception as exc:
                    info = host.plugins.get(plugin)
                    host.failures.append(
                        PluginFailure(
                            plugin,
                            info.distribution if info else "unknown",
                            info.version if info else "",
                            f"hook {hook_name}",
                            f"{type(exc).__name__}: {exc}".splitlines()[0],
                        )
                    )
                    if os.environ.get("MIRPLUG_DEBUG"):
                        traceback.print_exc()
                    continue
                for spec in specs:
                    clash = core_key_clash(spec, plugin)
                    if clash:  # refused alone: the plugin's other components stay
                        info = host.plugins.get(plugin)
                        host.failures.append(PluginFailure(plugin, info.distribution if info else "unknown",
                                                           info.version if info else "", f"hook {hook_name}", clash))
                        continue
                    catalog.entries[kind].setdefault(spec.name, []).append(Entry(spec, plugin))
        return catalog

    @property
    def failures(self) -> list[PluginFailure]:
        """Plugins that failed to load or whose hooks raised."""
        return self.host.failures

    def names(self, kind: str) -> list[str]:
        """Every name of ``kind``, sorted."""
        return sorted(self.entries[kind])

    def all(self, kind: str) -> list[Entry]:
        """Every entry of ``kind``, sorted by name (clashing names appear once per plugin)."""
        return [entry for name in self.names(kind) for entry in self.entries[kind][name]]

    def get(self, kind: str, name: str) -> ComponentSpec:
        """The spec called ``name`` (or ``plugin:name``); errors say what exists."""
        plugin, _, bare = name.rpartition(":")
        found = self.entries[kind].get(bare, [])
        if plugin:
            found = [entry for entry in found if entry.plugin == plugin]
        if not found:
            raise UnknownComponentError(
                f"unknown {kind} '{name}'{did_you_mean(bare, self.entries[kind])}; "
                f"available {kind}s: {choices_text(self.entries[kind])}"
            )
        if len(found) > 1:
            raise UnknownComponentError(self._clash_message(kind, bare, found))
        return found[0].spec

    def _clash_message(self, kind: str, name: str, found: list[Entry]) -> str:
        plugins = " and ".join(f"'{e.plugin}' ({self._distribution(e.plugin)})" for e in found)
        choices = " or ".join(f"{kind}={e.plugin}:{name}" for e in found)
        return f"{kind} '{name}' is registered by {len(found)} plugins, {plugins}; choose one with {choices}"

    def _distribution(self, plugin: str) -> str:
        info = self.host.plugins.get(plugin)
        return f"{info.distribution} {info.version}".strip() if info else "unknown distribution"

    def clashes(self) -> list[str]:
        """One message per component name that several plugins register (each needs ``plugin:name``)."""
        return [self._clash_message(kind, name, found)
                for kind in KINDS for name, found in sorted(self.entries[kind].items()) if len(found) > 1]

    def plugin_of(self, kind: str, name: str) -> str:
        """The plugin that registered the component ``name`` of ``kind``."""
        self.get(kind, name)
        plugin, _, bare = name.rpartition(":")
        return plugin or self.entries[kind][bare][0].plugin


# What the core passes to a factory besides the options, per kind: an option of that name would collide.
FACTORY_ARGUMENTS: dict[str, tuple[str, ...]] = {"backbone": ("input_shape", "frame_rate"), "dataset": ("task",)}


def core_key_clash(spec: ComponentSpec, plugin: str) -> str | None:
    """One line when an option of ``spec`` shadows a core key of its namespace, else ``None``.

    Every dataset shares the ``data.*`` core options (``data.clip_seconds``, ...): a dataset option of the
    same name would be overwritten by the core's. Backbone and dataset factories also get arguments from the
    core (``input_shape``, ``frame_rate``; ``task``), which an option must not repeat.
    """
    shared = {option.name: f"data.{option.name}" for option in DATA_OPTIONS} if spec.kind == "dataset" else {}
    passed = FACTORY_ARGUMENTS.get(spec.kind, ())
    for option in spec.options:
        if option.name in shared:
            return (f"plugin '{plugin}': {spec.kind} '{spec.name}' declares option '{option.name}', which shadows "
                    f"the core key {shared[option.name]} (shared by every {spec.kind}); rename the option")
        if option.name in passed:
            return (f"plugin '{plugin}': {spec.kind} '{spec.name}' declares option '{option.name}', which shadows "
                    f"the argument '{option.name}' the core passes to every {spec.kind} factory; rename the option")
    return None


def component_lookup() -> Callable[[str, str], ComponentSpec]:
    """``lookup(kind, name)``: the spec of an installed component, found as ``kind=name`` finds it on the command line.

    For a plugin that builds other components by name (a fusion of backbones, say). The plugins are
    loaded once, when this is called; ``name`` may be ``plugin:name`` to pick one of several, and an
    unknown name raises :class:`~mirplug.errors.UnknownComponentError` (a ``ConfigError``) listing
    what exists.
    """
    return load_catalog().get


def load_catalog() -> Catalog:
    """Load every installed plugin and build the catalog."""
    return Catalog.from_host(load_plugins())
