"""Shared by the tracker tests: private mirplug folders, a tiny two-class audio folder, a tiny run.

Not a conftest.py: the core's tests import their ``conftest`` by name, and a second module of that
name on the path would shadow theirs.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

# as the core's tests/conftest.py TINY, on 16 clips of 0.5 s: a few seconds
TINY = ["task=genre", "data.clip_seconds=0.5", "train.epochs=3", "train.patience=10", "train.batch_size=8",
        "backbone.channels=4", "backbone.blocks=2"]


@pytest.fixture(autouse=True)
def private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test gets its own cache and config folders."""
    monkeypatch.setenv("MIRPLUG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MIRPLUG_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("MIRPLUG_LOAD_PLUGINS", raising=False)
    yield


def audio_folder(root: Path, per_class: int = 8, seconds: float = 0.5, rate: int = 16000) -> Path:
    """``root/low`` and ``root/high``: noisy tones of 220 Hz and 880 Hz, seeded."""
    import soundfile

    rng = np.random.default_rng(0)
    time = np.arange(int(seconds * rate)) / rate
    for label, frequency in (("low", 220.0), ("high", 880.0)):
        (root / label).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            wave = 0.5 * np.sin(2 * np.pi * frequency * (1 + 0.01 * index) * time) + 0.05 * rng.standard_normal(len(time))
            soundfile.write(str(root / label / f"{label}-{index}.wav"), wave.astype(np.float32), rate)
    return root


def tiny_run(tmp_path: Path, *overrides: str) -> Any:
    """A run of genre on the tiny audio folder, quiet; returns its :class:`~mirplug.runner.RunResult`."""
    from rich.console import Console

    from mirplug.catalog import load_catalog
    from mirplug.config import resolve
    from mirplug.runner import run

    catalog = load_catalog()
    config = resolve(catalog, [*TINY, "data=audiofolder", f"data.path={audio_folder(tmp_path / 'audio')}",
                               f"out={tmp_path / 'runs'}", *overrides])
    return run(config, catalog, Console(file=io.StringIO(), width=200))


def history(folder: Path) -> list[dict[str, float]]:
    import csv

    with open(folder / "history.csv") as stream:
        return [{key: float(value) for key, value in row.items()} for row in csv.DictReader(stream)]


def drive(logger: Any, folder: Path, epochs: int = 3, folds: int = 1) -> list[str]:
    """Take ``logger`` through a run of fake values as mirplug would; the warning lines printed."""
    from rich.console import Console

    from mirplug.lifecycle import Lifecycle
    from mirplug.plugins import new_manager

    output = io.StringIO()
    with Lifecycle(new_manager(), Console(file=output, width=300), [("under-test", logger)]) as hooks:
        hooks.run_start({"task": {"name": "genre"}, "train": {"lr": 0.002}, "eval": {"folds": folds}, "seed": 3},
                        folder)
        for fold in range(1, folds + 1):
            for epoch in range(1, epochs + 1):
                hooks.epoch_end(folder, fold, {"epoch": epoch, "train_loss": 1.0 / epoch + fold,
                                               "validation_loss": 2.0 / epoch, "validation_macro_f1": 0.1 * epoch},
                                "macro_f1")
            hooks.evaluation_end(folder, fold, {"macro_f1": 0.5 + 0.1 * fold, "accuracy": 0.75, "best_epoch": epochs,
                                                "validation": {"macro_f1": 0.3}}, [{"id": "a", "label": "low"}])
        hooks.run_end(folder, {"macro_f1": 0.6, "accuracy": 0.75}, "finished")
    return output.getvalue().splitlines()
