"""A plugin written by a stranger, from the plugin API alone, works everywhere a built-in does.

``tests/fixtures/mirplug-strangers`` is an ordinary plugin package (a representation, a backbone, a generator,
a dataset and a logger, each imported only ``from mirplug``; tests/test_public_api.py checks it). Here it is installed
as pip leaves a package (importable, with a ``*.dist-info`` holding its entry point on ``sys.path``), so the
``mirplug`` command finds it through ``importlib.metadata`` like any installed plugin, and every command
runs in this process through the real command line: ``validate``, ``run``, ``ablate`` and ``augment``.
"""

from __future__ import annotations

import csv
import json
import re
import tomllib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mirplug.cli import app

STRANGERS = Path(__file__).parent / "fixtures" / "mirplug-strangers"
# every stranger component in one run: a hum or a hiss per clip, told apart by the zero-crossing rate
RUN = ["task=genre", "data=blips", "representation=zcr", "backbone=meanstd", "train.batch_size=8"]


@pytest.fixture(scope="module", autouse=True)
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The stranger plugin as pip installs it: the package importable, its dist-info beside it on ``sys.path``."""
    site = tmp_path_factory.mktemp("site")
    project = tomllib.loads((STRANGERS / "pyproject.toml").read_text())["project"]
    info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    points = "".join(f"{name} = {value}\n" for name, value in project["entry-points"]["mirplug"].items())
    (info / "entry_points.txt").write_text(f"[mirplug]\n{points}")
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(STRANGERS))
        patch.syspath_prepend(str(site))
        yield


def mirplug(*args: str) -> str:
    """``mirplug args...`` in this process; fails the test with the output unless it exits 0."""
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return result.output


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_stranger_component_passes_validate() -> None:
    output = mirplug("validate", "strangers")
    for component in ("representation:zcr", "backbone:meanstd", "augmenter:shuffle", "dataset:blips",
                      "logger:jsonlines"):
        assert component in output
    passed = re.search(r"\n(\d+) passed, 0 failed, 0 skipped", output)
    assert passed and int(passed.group(1)) >= 30, output
    assert "log-mel for quality reports" in output  # the generator's report runs on Generator.log_mel's default


def test_a_run_with_every_stranger_component_learns_and_reports_the_generator(tmp_path: Path) -> None:
    mirplug("run", *RUN, "augmenter=shuffle", "augmenter.per_class=3", "train.epochs=40", "logger=jsonlines",
            f"out={tmp_path}", "name=stranger")
    folder = tmp_path / "stranger"
    metrics = json.loads((folder / "metrics.json").read_text())
    labels = [row["label"] for row in read_csv(folder / "predictions.csv")]
    constant = max(Counter(labels).values()) / len(labels)  # the best constant predictor on the same test clips
    assert constant <= 0.6 and metrics["accuracy"] >= constant + 0.35, (metrics["accuracy"], constant)
    (report,) = json.loads((folder / "quality.json").read_text())
    assert report["augmenter"] == "shuffle" and report["sampled"] == report["kept"] == 6
    assert set(report["frechet_distance"]) >= {"hum", "hiss"}
    assert (folder / "spectrograms_shuffle.png").is_file()
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    epochs = [event for event in events if event["event"] == "epoch_end"]
    assert len(epochs) == metrics["epochs_run"] and [e["epoch"] for e in epochs] == list(range(1, len(epochs) + 1))
    assert [event["event"] for event in events if event["event"] != "epoch_end"] == [
        "run_start", "evaluation_end", "run_end"]
    assert events[0]["task"] == "genre" and events[-1]["status"] == "finished"
    assert metrics["plugins"]["logger:jsonlines"] == {"events": len(events) - 1}  # counted before run_end


def test_ablate_compares_real_only_with_the_stranger_generator(tmp_path: Path) -> None:
    mirplug("ablate", *RUN, "augmenter=shuffle", "augmenter.per_class=3", "train.epochs=2", "seed=0",
            "--classical", "gain", "--out", str(tmp_path))
    (folder,) = list(tmp_path.iterdir())
    arms = [row["arm"] for row in read_csv(folder / "ablation.csv")]
    assert arms == ["augmenter=shuffle augmenter.per_class=3", "augmenter=gain"]
    runs = read_csv(folder / "runs.csv")
    assert len(runs) == 3 and all(row["status"] == "ok" for row in runs if "status" in row)


def test_augment_writes_the_stranger_generators_clips_with_provenance(tmp_path: Path) -> None:
    import datasets

    mirplug("augment", "task=genre", "data=blips", "augmenter=shuffle", "augmenter.per_class=2",
            f"out={tmp_path / 'augmented'}")
    train = datasets.load_from_disk(str(tmp_path / "augmented"))["train"]
    synthetic = [row for row in train if row["synthetic"]]
    assert Counter(row["label"] for row in synthetic) == {0: 2, 1: 2}
    assert {row["augmenter"] for row in synthetic} == {"shuffle"}
    assert len({row["generator_hash"] for row in synthetic}) == 1 and synthetic[0]["generator_hash"]
