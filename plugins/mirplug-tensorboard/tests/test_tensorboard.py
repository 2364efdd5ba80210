"""The tensorboard logger's event files, read back with TensorBoard's own EventAccumulator."""

from __future__ import annotations

from pathlib import Path

import pytest
from tensorboard_support import drive, history, private_dirs, tiny_run  # noqa: F401

pytest.importorskip("tensorboard")


def scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag of the event files in ``folder``: (step, value) in order."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(event.step, event.value) for event in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_a_run_with_logger_tensorboard_writes_its_per_epoch_losses(tmp_path: Path) -> None:
    result = tiny_run(tmp_path, "logger=tensorboard")
    found = scalars(result.folder / "tensorboard")
    epochs = history(result.folder)
    assert len(epochs) == 3
    for tag, column in (("train/loss", "train_loss"), ("validation/loss", "validation_loss"),
                        ("validation/macro_f1", "validation_macro_f1")):
        assert [step for step, _ in found[tag]] == [1, 2, 3]
        assert [value for _, value in found[tag]] == pytest.approx([row[column] for row in epochs], rel=1e-6)
    (step, value), = found["test/macro_f1"]
    assert step == result.metrics["best_epoch"] and value == pytest.approx(result.metrics["macro_f1"], rel=1e-6)


def test_k_fold_tags_and_a_log_dir_of_ones_own(tmp_path: Path) -> None:
    from mirplug_tensorboard.logger import TensorBoardLogger

    assert drive(TensorBoardLogger(log_dir="tb"), tmp_path, epochs=2, folds=2) == []
    found = scalars(tmp_path / "tb")
    assert found["fold_1/train/loss"] == [(1, 2.0), (2, 1.5)]
    assert found["fold_2/train/loss"] == [(1, 3.0), (2, 2.5)]
    assert found["fold_2/test/macro_f1"] == [(2, pytest.approx(0.7))]
    assert not [tag for tag in found if tag.startswith(("train", "test"))]  # every tag names its fold


def test_the_logger_passes_mirplug_validate(tmp_path: Path) -> None:
    from mirplug.testing import FAIL, check_plugin

    results = check_plugin("tensorboard", workdir=tmp_path)
    assert [r for r in results if r.status == FAIL] == []
    assert {r.component for r in results} == {"logger:tensorboard"}
