"""``data.per_class``, grid expansion, the t-interval, and a small real ``mirplug sweep``."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"

from mirplug.errors import ConfigError  # noqa: E402
from mirplug.stats import t_interval  # noqa: E402
from mirplug.sweep import expand  # noqa: E402


def test_comma_lists_expand_except_augmenters() -> None:
    points, swept = expand(["task=genre", "data.per_class=1,5", "seed=0,1,2", "augmenter=gain,noise"])
    assert swept == ["data.per_class", "seed"]
    assert len(points) == 6
    assert points[0].overrides == ("task=genre", "data.per_class=1", "seed=0", "augmenter=gain,noise")
    assert points[-1].values == (("data.per_class", "5"), ("seed", "2"))


def test_arms_share_the_grid() -> None:
    points, _ = expand(["seed=0,1"], ["backbone=cnn", "representation=mfcc backbone=mlp"])
    assert [p.arm for p in points] == ["backbone=cnn"] * 2 + ["representation=mfcc backbone=mlp"] * 2
    assert points[3].overrides == ("seed=1", "representation=mfcc", "backbone=mlp")
    with pytest.raises(ConfigError, match="put swept keys outside --arm"):
        expand(["seed=0"], ["backbone=cnn,mlp"])


def test_t_interval_matches_the_t_distribution() -> None:
    mean, low, high = t_interval([1.0, 2.0, 3.0])
    assert mean == 2.0
    # t(0.975, df=2) = 4.302653; s = 1; half-width = 4.302653 / sqrt(3)
    assert high - mean == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert mean - low == pytest.approx(high - mean)
    single = t_interval([0.5])
    assert single[0] == 0.5 and math.isnan(single[1])


def test_per_class_subsamples_the_training_split_only(tmp_path: Path) -> None:
    from datasets import ClassLabel, Dataset, Features, Value

    from mirplug.data import subsample_per_class

    data = Dataset.from_dict({"id": [str(i) for i in range(9)], "label": [0] * 5 + [1] * 3 + [2]},
                             features=Features({"id": Value("string"), "label": ClassLabel(names=["a", "b", "c"])}))
    kept, short = subsample_per_class(data, "label", 2, seed=0)
    assert sorted(kept["label"]) == [0, 0, 1, 1, 2]
    assert short == ["c=1"]
    again, _ = subsample_per_class(data, "label", 2, seed=0)
    other, _ = subsample_per_class(data, "label", 2, seed=1)
    assert kept["id"] == again["id"]
    assert {tuple(subsample_per_class(data, "label", 2, seed=s)[0]["id"]) for s in range(6)} != {tuple(kept["id"])}
    assert len(other) == 5


def test_sweep_command_writes_the_learning_curve(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mirplug.cli import app

    os.environ["MIRPLUG_CACHE_DIR"] = str(tmp_path / "cache")
    result = CliRunner().invoke(app, [
        "sweep", "task=genre", "data.clips_per_class=6", "data.seconds=1.0", "data.clip_seconds=1.0",
        "train.epochs=1", "data.per_class=1,2", "seed=0,1", "--arm", "representation=mfcc backbone=mlp",
        "--arm", "backbone=cnn backbone.channels=4 backbone.blocks=2", "--out", str(tmp_path / "sweeps")])
    assert result.exit_code == 0, result.output
    (folder,) = (tmp_path / "sweeps").iterdir()
    with open(folder / "runs.csv") as handle:
        runs = list(csv.DictReader(handle))
    assert len(runs) == 8
    assert {int(r["n_train"]) for r in runs if r["data.per_class"] == "2"} == {2 * 6}
    with open(folder / "learning_curve.csv") as handle:
        cells = list(csv.DictReader(handle))
    assert len(cells) == 4 and {c["n"] for c in cells} == {"2"}
    first = [float(r["macro_f1"]) for r in runs[:2]]
    assert float(cells[0]["mean"]) == pytest.approx(sum(first) / 2, abs=1e-4)
    table = (folder / "learning_curve.md").read_text()
    assert "| arm | data.per_class=1 | data.per_class=2 |" in table
    assert (folder / "learning_curve.png").stat().st_size > 0


def test_an_interrupted_sweep_resumes_keeping_finished_runs(tmp_path: Path) -> None:
    import json
    import shutil

    from typer.testing import CliRunner

    from mirplug.cli import app

    os.environ["MIRPLUG_CACHE_DIR"] = str(tmp_path / "cache")
    command = ["sweep", "task=genre", "data.clips_per_class=6", "data.seconds=1.0", "data.clip_seconds=1.0",
               "train.epochs=1", "backbone=mlp", "representation=mfcc", "seed=0,1,2"]
    first = CliRunner().invoke(app, [*command, "--out", str(tmp_path / "sweeps")])
    assert first.exit_code == 0, first.output
    (folder,) = (tmp_path / "sweeps").iterdir()
    runs = sorted((folder / "runs").iterdir())
    assert len(runs) == 3
    # as if interrupted: the last run never started, the middle one stopped before its final metrics
    shutil.rmtree(runs[2])
    (runs[1] / "run.json").unlink()  # the runner writes run.json last
    kept = (runs[0] / "metrics.json").stat().st_mtime_ns
    resumed = CliRunner().invoke(app, [*command, "--resume", str(folder)])
    assert resumed.exit_code == 0, resumed.output
    assert resumed.output.count("finished earlier") == 1
    assert (runs[0] / "metrics.json").stat().st_mtime_ns == kept
    assert all("duration_seconds" in json.loads((run / "run.json").read_text()) for run in runs)
    with open(folder / "runs.csv") as handle:
        assert [row["seed"] for row in csv.DictReader(handle)] == ["0", "1", "2"]
    assert list((tmp_path / "sweeps").iterdir()) == [folder]  # no second sweep folder
    other = CliRunner().invoke(app, [*command[:-1], "seed=0,1", "--resume", str(folder)])
    assert isinstance(other.exception, ConfigError)  # `mirplug` prints it as one line, exit code 2
    assert "resume it with the same overrides and arms" in str(other.exception)
    missing = CliRunner().invoke(app, [*command, "--resume", str(tmp_path)])
    assert isinstance(missing.exception, ConfigError) and "no sweep.json there" in str(missing.exception)


def test_a_sweep_interrupted_during_a_run_continues_that_run_from_its_checkpoint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from mirplug.catalog import load_catalog
    from mirplug.cli import app
    from mirplug.config import resolve
    from mirplug.runner import run
    from mirplug.checkpoint import Checkpoint

    common = ["task=genre", "data.clips_per_class=6", "data.seconds=1.0", "data.clip_seconds=1.0", "train.epochs=3",
              "train.patience=10", "backbone=mlp", "representation=mfcc"]
    command = ["sweep", *common, "seed=0,1"]
    save, saved_epochs = Checkpoint.save, []

    def interrupt_seed_1_after_epoch_2(self: Checkpoint, epoch: int, *rest: object) -> None:
        save(self, epoch, *rest)  # type: ignore[arg-type]
        if epoch == 2 and "seed-1" in str(self.folder):
            raise KeyboardInterrupt

    monkeypatch.setattr(Checkpoint, "save", interrupt_seed_1_after_epoch_2)
    first = CliRunner().invoke(app, [*command, "--out", str(tmp_path / "sweeps")])
    assert first.exit_code != 0
    (folder,) = (tmp_path / "sweeps").iterdir()

    def record(self: Checkpoint, epoch: int, *rest: object) -> None:
        saved_epochs.append(epoch)
        save(self, epoch, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(Checkpoint, "save", record)
    resumed = CliRunner().invoke(app, [*command, "--resume", str(folder)])
    assert resumed.exit_code == 0, resumed.output
    assert saved_epochs == [3]  # seed 0 finished earlier; seed 1 continued after its epoch 2
    catalog = load_catalog()
    whole = run(resolve(catalog, [*common, "seed=1", f"out={tmp_path}", "name=whole"]), catalog)
    assert (folder / "runs" / "run-seed-1" / "metrics.json").read_bytes() == \
        (whole.folder / "metrics.json").read_bytes()
