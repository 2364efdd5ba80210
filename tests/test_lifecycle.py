"""Lifecycle hooks: pluggy ordering and wrappers, a plugin that raises loses nothing but itself, metrics of
a plugin's own in metrics.json, loggers active only when chosen. Tiny plugin classes on fresh managers."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import pytest
from conftest import SMALL_CNN, TINY, tone, write_audio
from rich.console import Console

from mirplug.catalog import Catalog
from mirplug.errors import ConfigError
from mirplug.hookspecs import LIFECYCLE_HOOKS, hookimpl
from mirplug.lifecycle import Lifecycle
from mirplug.plugins import load_plugins, new_manager
from mirplug.specs import LoggerSpec, Option

RECORD = {"epoch": 1, "train_loss": 0.5, "validation_loss": 0.7, "validation_macro_f1": 0.25}


def console() -> tuple[Console, io.StringIO]:
    output = io.StringIO()
    return Console(file=output, width=300), output


class Calls:
    """Records every epoch_end it sees, under its name, in a shared list."""

    def __init__(self, name: str, seen: list[str]) -> None:
        self.name, self.seen = name, seen

    @hookimpl
    def mirplug_epoch_end(self, epoch: int) -> None:
        self.seen.append(f"{self.name}:{epoch}")


def test_ordering_and_wrappers_work_as_pluggy_says() -> None:
    seen: list[str] = []

    class First(Calls):
        @hookimpl(tryfirst=True)
        def mirplug_epoch_end(self, epoch: int) -> None:
            seen.append("first")

    class Wrapper:
        @hookimpl(wrapper=True)
        def mirplug_epoch_end(self, train: dict):
            seen.append(f"before (train loss {train['loss']})")
            result = yield
            seen.append(f"after {len(result)} results")
            return result

    manager = new_manager()
    manager.register(Calls("plain", seen), name="plain")
    manager.register(First("first", seen), name="first")
    manager.register(Wrapper(), name="wrapper")
    out, text = console()
    with Lifecycle(manager, out) as hooks:
        hooks.epoch_end(Path("run"), 1, RECORD, "macro_f1")
    assert seen == ["before (train loss 0.5)", "first", "plain:1", "after 0 results"]
    assert text.getvalue() == ""


def test_a_hook_that_raises_is_one_warning_line_naming_its_plugin_and_the_others_still_run() -> None:
    seen: list[str] = []

    class Broken:
        @hookimpl(tryfirst=True)  # called before the working one: it must not stop it
        def mirplug_epoch_end(self, epoch: int) -> None:
            raise ValueError(f"cannot log epoch {epoch}")

    manager = new_manager()
    manager.register(Calls("working", seen), name="working")
    manager.register(Broken(), name="broken-tracker")
    out, text = console()
    with Lifecycle(manager, out) as hooks:
        for epoch in (1, 2, 3):
            hooks.epoch_end(Path("run"), 1, {**RECORD, "epoch": epoch}, "macro_f1")
    assert seen == ["working:1", "working:2", "working:3"]
    assert text.getvalue().splitlines() == [
        "warning: plugin 'broken-tracker' failed in mirplug_epoch_end (ValueError: cannot log epoch 1); "
        "the run goes on without it"]
    # outside the run the hooks are pluggy's own again
    with pytest.raises(ValueError):
        manager.hook.mirplug_epoch_end(run_folder=Path("run"), fold=1, epoch=4, train={}, validation={})


def test_a_wrapper_that_raises_is_reported_with_its_plugin() -> None:
    class BrokenWrapper:
        @hookimpl(wrapper=True)
        def mirplug_run_end(self, status: str):
            yield
            raise RuntimeError(f"tracker server gone ({status})")

    manager = new_manager()
    manager.register(BrokenWrapper(), name="remote-tracker")
    out, text = console()
    with Lifecycle(manager, out) as hooks:
        hooks.run_end(Path("run"), {}, "finished")
    assert "plugin 'remote-tracker' failed in mirplug_run_end (RuntimeError: tracker server gone (finished))" \
        in text.getvalue()


def test_plugin_metrics_are_filed_under_each_plugin_and_bad_results_are_left_out() -> None:
    class ErrorRate:
        @hookimpl
        def mirplug_run_metrics(self, metrics: dict) -> dict:
            metrics["accuracy"] = 0.0  # a copy: the run's metrics stay as they are
            return {"error_rate": 0.25}

    class Same:
        @hookimpl
        def mirplug_run_metrics(self) -> dict:
            return {"error_rate": "mine"}

    class NotADict:
        @hookimpl
        def mirplug_run_metrics(self) -> list:
            return [1, 2]

    manager = new_manager()
    for name, plugin in (("error-rate", ErrorRate()), ("same-key", Same()), ("wrong", NotADict())):
        manager.register(plugin, name=name)
    metrics = {"accuracy": 0.75}
    out, text = console()
    with Lifecycle(manager, out) as hooks:
        found = hooks.run_metrics(Path("run"), metrics)
    assert found == {"error-rate": {"error_rate": 0.25}, "same-key": {"error_rate": "mine"}}
    assert metrics == {"accuracy": 0.75}
    assert "plugin 'wrong' failed in mirplug_run_metrics (TypeError: returned list, not a dict)" in text.getvalue()


def test_hooks_do_not_move_the_run_s_random_numbers() -> None:
    import numpy as np
    import torch

    class Noisy:
        @hookimpl
        def mirplug_epoch_end(self) -> None:
            torch.rand(3), np.random.rand(), random.random()

    manager = new_manager()
    manager.register(Noisy(), name="noisy")
    torch.manual_seed(0)
    expected = torch.rand(2)
    torch.manual_seed(0)
    with Lifecycle(manager, console()[0]) as hooks:
        hooks.epoch_end(Path("run"), 1, RECORD, "macro_f1")
    assert torch.equal(torch.rand(2), expected)


def test_a_logger_is_registered_for_the_run_only_and_must_implement_a_lifecycle_hook() -> None:
    seen: list[str] = []
    manager = new_manager()
    with Lifecycle(manager, console()[0], [("calls", Calls("logger", seen))]) as hooks:
        assert manager.get_plugin("logger:calls") is not None
        hooks.epoch_end(Path("run"), 1, RECORD, "macro_f1")
    assert manager.get_plugin("logger:calls") is None and seen == ["logger:1"]

    class Silent:
        def mirplug_epoch_end(self) -> None:  # no @hookimpl
            pass

    with pytest.raises(ConfigError, match="logger 'silent' .* implements no lifecycle hook"):
        with Lifecycle(manager, console()[0], [("silent", Silent())]):
            pass
    assert manager.get_plugin("logger:silent") is None


# --------------------------------------------------------------------------------------
# in a run


class Watcher:
    """A plugin that records every lifecycle call of a run."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    @hookimpl
    def mirplug_run_start(self, config: dict, run_folder: Path) -> None:
        self.calls.append(("run_start", {"config": config, "run_folder": run_folder}))

    @hookimpl
    def mirplug_epoch_end(self, fold: int, epoch: int, train: dict, validation: dict) -> None:
        self.calls.append(("epoch_end", {"fold": fold, "epoch": epoch, "train": train, "validation": validation}))

    @hookimpl
    def mirplug_evaluation_end(self, fold: int, metrics: dict, predictions: list) -> None:
        self.calls.append(("evaluation_end", {"fold": fold, "metrics": metrics, "predictions": predictions}))

    @hookimpl
    def mirplug_run_metrics(self, metrics: dict) -> dict:
        return {"error_rate": round(1.0 - metrics["accuracy"], 6)}

    @hookimpl
    def mirplug_run_end(self, run_folder: Path, metrics: dict, status: str) -> None:
        self.calls.append(("run_end", {"run_folder": run_folder, "metrics": metrics, "status": status}))


class Exploding:
    @hookimpl
    def mirplug_epoch_end(self) -> None:
        raise OSError("disk full")


class LoggerPlugin:
    """Registers logger 'counter', which counts epochs into a file named by its option."""

    @hookimpl
    def mirplug_register_loggers(self) -> list[LoggerSpec]:
        return [LoggerSpec(name="counter", summary="counts epochs", factory=Counter, license="MIT",
                           options=(Option(name="file", type=str, default="epochs.txt"),))]


class Counter:
    def __init__(self, file: str = "epochs.txt") -> None:
        self.file = file

    @hookimpl
    def mirplug_epoch_end(self, run_folder: Path, epoch: int) -> None:
        with open(run_folder / self.file, "a") as out:
            out.write(f"{epoch}\n")


def tones(root: Path) -> Path:
    """Two classes of eight 0.5 s tones (a run on them takes seconds)."""
    for label, frequency in (("low", 220.0), ("high", 880.0)):
        for index in range(8):
            write_audio(root / label / f"{label}-{index}.wav", tone(frequency * (1 + 0.02 * index), 0.5))
    return root


def test_a_run_calls_every_hook_with_what_it_writes_and_survives_a_broken_plugin(tmp_path: Path) -> None:
    from mirplug.config import resolve
    from mirplug.runner import run

    host = load_plugins()
    watcher = Watcher()
    host.register(watcher, "watcher")
    host.register(Exploding(), "exploding")
    host.register(LoggerPlugin(), "counting")
    catalog = Catalog.from_host(host)
    output = io.StringIO()
    config = resolve(catalog, ["task=genre", "data=audiofolder", f"data.path={tones(tmp_path / 'a')}", *SMALL_CNN,
                               "data.clip_seconds=0.5", "train.epochs=3", "train.batch_size=8", f"out={tmp_path}",
                               "name=hooked",
                               "logger=counter", "logger.file=count.txt"])
    result = run(config, catalog, Console(file=output, width=300))

    folder = result.folder
    names = [name for name, _ in watcher.calls]
    epochs = result.metrics["epochs_run"]
    assert names == ["run_start"] + ["epoch_end"] * epochs + ["evaluation_end", "run_end"]
    start = watcher.calls[0][1]
    assert start["run_folder"] == folder and start["config"]["logger"] == [{"name": "counter", "file": "count.txt"}]
    with open(folder / "history.csv") as stream:
        history = list(csv.DictReader(stream))
    assert [(c["epoch"], c["train"]["loss"], c["validation"]["macro_f1"]) for n, c in watcher.calls if n == "epoch_end"] \
        == [(int(h["epoch"]), float(h["train_loss"]), float(h["validation_macro_f1"])) for h in history]
    evaluation = watcher.calls[-2][1]
    with open(folder / "predictions.csv") as stream:
        assert len(evaluation["predictions"]) == len(list(csv.DictReader(stream))) == result.metrics["n_test"]
    assert evaluation["metrics"]["macro_f1"] == result.metrics["macro_f1"]
    saved = json.loads((folder / "metrics.json").read_text())
    assert saved["plugins"] == {"watcher": {"error_rate": round(1.0 - saved["accuracy"], 6)}}
    end = watcher.calls[-1][1]
    assert end["status"] == "finished" and end["metrics"] == saved
    assert (folder / "count.txt").read_text().split() == [str(e) for e in range(1, epochs + 1)]
    assert output.getvalue().count("plugin 'exploding' failed in mirplug_epoch_end (OSError: disk full)") == 1
    # the logger was the run's only: it is gone, and a run that does not choose it does not count
    assert host.manager.get_plugin("logger:counter") is None


@pytest.mark.parametrize("stop, status", [(KeyboardInterrupt, "interrupted"), (OSError, "failed")])
def test_a_run_that_stops_ends_with_its_status(stop: type, status: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import mirplug.runner
    from mirplug.config import resolve
    from mirplug.errors import RunInterrupted

    def folds(*args: object, **kwargs: object) -> None:
        raise stop("stopped in the first fold")

    monkeypatch.setattr(mirplug.runner, "run_folds", folds)
    host = load_plugins()
    watcher = Watcher()
    host.register(watcher, "watcher")
    catalog = Catalog.from_host(host)
    config = resolve(catalog, ["task=genre", *TINY, f"out={tmp_path}"])
    with pytest.raises(RunInterrupted if stop is KeyboardInterrupt else stop):
        mirplug.runner.run(config, catalog, Console(file=io.StringIO()))
    assert [name for name, _ in watcher.calls] == ["run_start", "run_end"]
    assert watcher.calls[-1][1]["status"] == status and watcher.calls[-1][1]["metrics"] == {}


def test_logger_options_are_checked_like_any_component() -> None:
    from mirplug.config import config_from_dict, resolve

    host = load_plugins()
    host.register(LoggerPlugin(), "counting")
    catalog = Catalog.from_host(host)
    with pytest.raises(ConfigError, match=r"unknown key 'logger.fiel' \(did you mean 'file'\?\); logger counter accepts: file"):
        resolve(catalog, ["logger=counter", "logger.fiel=x"])
    with pytest.raises(ConfigError, match="'logger.file' sets a logger option but no logger is chosen; add logger=NAME"):
        resolve(catalog, ["logger.file=x"])
    with pytest.raises(ConfigError, match="logger=counter,counter names a logger twice"):
        resolve(catalog, ["logger=counter,counter"])
    config = resolve(catalog, ["logger=counter", "logger.counter.file=n.txt"])
    assert config.loggers[0].options == {"file": "n.txt"}
    assert resolve(catalog, config.overrides()) == config
    assert resolve(catalog, config_from_dict(config.to_dict())) == config
    assert "logger" not in resolve(catalog, []).to_dict()  # a run without loggers saves the config it saved before
    # a sweep keeps a list of loggers together (as a list of augmenters): every run logs to both
    from mirplug.sweep import expand

    points, swept = expand(["logger=counter,other", "seed=0,1"])
    assert swept == ["seed"] and [p.overrides for p in points] == [("logger=counter,other", "seed=0"),
                                                                   ("logger=counter,other", "seed=1")]
    assert set(LIFECYCLE_HOOKS) <= {name for name in dir(host.manager.hook) if name.startswith("mirplug_")}


def test_validate_takes_a_logger_through_a_fake_run(tmp_path: Path) -> None:
    from mirplug.testing import FAIL, check_component

    class Broken(Counter):
        @hookimpl
        def mirplug_run_end(self, status: str) -> None:
            raise RuntimeError(f"cannot close the run ({status})")

    class Plugin:
        @hookimpl
        def mirplug_register_loggers(self) -> list[LoggerSpec]:
            return [LoggerSpec(name="counter", summary="counts epochs", factory=Counter, license="MIT"),
                    LoggerSpec(name="broken", summary="fails at the end", factory=Broken, license="MIT")]

    host = load_plugins()
    host.register(Plugin(), "loggers")
    catalog = Catalog.from_host(host)
    good = check_component("logger", "counter", catalog, workdir=tmp_path)
    assert [r.status for r in good if r.status == FAIL] == []
    assert "implements mirplug_epoch_end" in good[-1].detail
    assert (tmp_path / "logger-counter" / "epochs.txt").read_text().split() == ["1", "2"]
    bad = check_component("logger", "broken", catalog, workdir=tmp_path)
    assert [(r.check, r.detail) for r in bad if r.status == FAIL] == [
        ("registers and takes a run's lifecycle without an error",
         "warning: plugin 'logger:broken' failed in mirplug_run_end (RuntimeError: cannot close the run (finished)); "
         "the run goes on without it")]
