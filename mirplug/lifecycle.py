"""Calling the lifecycle hooks of a run (see :mod:`mirplug.hookspecs`), with every plugin isolated.

A :class:`Lifecycle` is entered for the duration of one run: it registers the run's loggers on
the plugin manager, makes every plain implementation of a lifecycle hook report an exception
instead of raising it (so the other plugins still run and the run goes on), and undoes both on
exit. Wrappers run as pluggy runs them; an exception out of a wrapper is reported too, with the
plugin whose wrapper raised. Each failing (plugin, hook) pair is reported once, as one warning line.
Hooks run with the global random states saved and restored, so a plugin that draws random numbers
does not change the numbers of the run; they get copies of the metrics, never the run's own.

Internal: not part of the plugin API (the hooks themselves are, see :mod:`mirplug.hookspecs`); may change
in any release.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pluggy
from rich.console import Console
from rich.markup import escape

from mirplug.build import isolated_random_state
from mirplug.errors import ConfigError
from mirplug.hookspecs import LIFECYCLE_HOOKS

LOGGER_PREFIX = "logger:"  # loggers are registered as ``logger:NAME``


class Lifecycle:
    """The lifecycle hooks of one run on ``manager``, with the run's ``loggers`` (``(name, object)``) registered.

    Use it as a context manager around the run; outside it the hooks are not guarded.
    """

    def __init__(self, manager: pluggy.PluginManager, console: Console,
                 loggers: Sequence[tuple[str, Any]] = ()) -> None:
        self.manager, self.console, self.loggers = manager, console, list(loggers)
        self.reported: set[tuple[str, str]] = set()
        self._patched: list[tuple[Any, Callable[..., Any]]] = []
        self._registered: list[Any] = []

    def __enter__(self) -> Lifecycle:
        try:
            for name, logger in self.loggers:
                self._register(name, logger)
        except BaseException:
            self._unregister()
            raise
        for hook in LIFECYCLE_HOOKS:
            for impl in getattr(self.manager.hook, hook).get_hookimpls():
                if not (impl.hookwrapper or impl.wrapper):
                    self._patched.append((impl, impl.function))
                    impl.function = self._guarded(hook, impl.plugin_name, impl.function)
        return self

    def __exit__(self, *exc: object) -> None:
        for impl, function in reversed(self._patched):
            impl.function = function
        self._patched.clear()
        self._unregister()

    def _register(self, name: str, logger: Any) -> None:
        """Register a logger object; one that implements no lifecycle hook, or an unknown one, is refused."""
        registered = f"{LOGGER_PREFIX}{name}"
        try:
            self.manager.register(logger, name=registered)
        except ValueError as exc:  # pluggy: the same object or name registered twice
            raise ConfigError(f"logger '{name}' is chosen twice ({exc})") from None
        self._registered.append(logger)
        try:
            self.manager.check_pending()
        except pluggy.PluginValidationError as exc:
            raise ConfigError(f"logger '{name}': {exc}; see mirplug.hookspecs for the lifecycle hooks") from None
        hooks = {caller.name for caller in self.manager.get_hookcallers(logger) or []}
        if not hooks & set(LIFECYCLE_HOOKS):
            raise ConfigError(f"logger '{name}' ({type(logger).__name__}) implements no lifecycle hook; decorate "
                              f"its methods with @hookimpl (e.g. mirplug_epoch_end)")

    def _unregister(self) -> None:
        for logger in reversed(self._registered):
            self.manager.unregister(logger)
        self._registered.clear()

    def _guarded(self, hook: str, plugin: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - a plugin's error must not lose the run
                self.report(plugin, hook, exc)
                return None

        return guarded

    def report(self, plugin: str, hook: str, exc: BaseException) -> None:
        """One warning line naming the plugin and the hook, the first time this pair fails in the run."""
        if (plugin, hook) in self.reported:
            return
        self.reported.add((plugin, hook))
        detail = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
        self.console.print(f"[yellow]warning:[/] plugin '{escape(plugin)}' failed in {hook} ({escape(detail)}); "
                           f"the run goes on without it", soft_wrap=True, highlight=False)

    def _culprit(self, hook: str, exc: BaseException) -> str:
        """The plugin whose wrapper raised ``exc`` (read from the traceback), else ``"?"``."""
        wrappers = {impl.function.__code__: impl.plugin_name
                    for impl in getattr(self.manager.hook, hook).get_hookimpls()
                    if (impl.hookwrapper or impl.wrapper) and hasattr(impl.function, "__code__")}
        found, trace = "?", exc.__traceback__
        while trace is not None:
            found = wrappers.get(trace.tb_frame.f_code, found)
            trace = trace.tb_next
        return found

    def call(self, hook: str, **kwargs: Any) -> list[Any]:
        """Call ``hook`` through pluggy (ordering and wrappers apply); an error is reported, not raised."""
        try:
            with isolated_random_state():
                return list(getattr(self.manager.hook, hook)(**kwargs) or [])
        except Exception as exc:  # noqa: BLE001 - out of a wrapper (plain implementations are guarded)
            self.report(self._culprit(hook, exc), hook, exc)
            return []

    # ------------------------------------------------------------------------------------------
    # the hooks, as the runner calls them

    def run_start(self, config: dict[str, Any], run_folder: Path) -> None:
        self.call("mirplug_run_start", config=config, run_folder=run_folder)

    def epoch_end(self, run_folder: Path, fold: int, record: dict[str, Any], main_metric: str) -> None:
        """From one row of ``history.csv`` (``epoch``, ``train_loss``, ``validation_loss``, ``validation_<metric>``)."""
        self.call("mirplug_epoch_end", run_folder=run_folder, fold=fold, epoch=int(record["epoch"]),
                  train={"loss": record["train_loss"]},
                  validation={"loss": record["validation_loss"], main_metric: record[f"validation_{main_metric}"]})

    def evaluation_end(self, run_folder: Path, fold: int, metrics: dict[str, Any],
                       predictions: list[dict[str, Any]]) -> None:
        self.call("mirplug_evaluation_end", run_folder=run_folder, fold=fold, metrics=copy.deepcopy(metrics),
                  predictions=copy.deepcopy(predictions))

    def run_end(self, run_folder: Path, metrics: dict[str, Any], status: str) -> None:
        self.call("mirplug_run_end", run_folder=run_folder, metrics=copy.deepcopy(metrics), status=status)

    def run_metrics(self, run_folder: Path, metrics: dict[str, Any]) -> dict[str, Any]:
        """``{plugin: its metrics}`` from ``mirplug_run_metrics``, one implementation at a time in pluggy's order.

        A result that is not a JSON-serialisable dict is reported and left out.
        """
        found: dict[str, Any] = {}
        kwargs = {"run_folder": run_folder, "metrics": metrics}
        for impl in reversed(self.manager.hook.mirplug_run_metrics.get_hookimpls()):  # pluggy calls last first
            if impl.hookwrapper or impl.wrapper:
                continue
            with isolated_random_state():
                result = impl.function(*(copy.deepcopy(kwargs[name]) for name in impl.argnames))
            if result is None:
                continue
            try:
                if not isinstance(result, dict):
                    raise TypeError(f"returned {type(result).__name__}, not a dict")
                json.dumps(result)
            except (TypeError, ValueError) as exc:
                self.report(impl.plugin_name, "mirplug_run_metrics", exc)
                continue
            found[impl.plugin_name] = result
        return found
