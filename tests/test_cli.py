"""The command line, run as a user runs it: the installed console script in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SMALL_CNN, TINY, tone, write_audio

MIRPLUG = str(Path(sys.executable).parent / "mirplug")


def mirplug(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([MIRPLUG, *args], capture_output=True, text=True, env={**os.environ, **(env or {})},
                          cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    result = mirplug("run", "task=genre", *TINY, *SMALL_CNN, "augmenter=gain,specaugment", f"out={out}")
    assert result.returncode == 0, result.stderr
    (folder,) = list(out.iterdir())
    return folder, result


def test_run_leaves_a_complete_run_folder(finished_run):
    folder, result = finished_run
    assert folder.name.endswith("-genre")
    assert {"config.yaml", "metrics.json", "confusion_matrix.png", "predictions.csv", "model.safetensors",
            "learning_curves.png", "history.csv", "skipped.csv", "augmentations.csv"} <= {p.name for p in folder.iterdir()}
    metrics = json.loads((folder / "metrics.json").read_text())
    assert {"accuracy", "macro_f1", "n_train", "n_validation", "n_test", "seed", "per_class"} <= set(metrics)
    assert metrics["n_train"] + metrics["n_validation"] + metrics["n_test"] == 6 * 8
    assert sorted(metrics["per_class"]) == sorted(["rock", "electronic", "jazz", "hiphop", "classical", "reggae"])
    assert 0.0 <= metrics["macro_f1"] <= 1.0 and metrics["seed"] == 0
    predictions = (folder / "predictions.csv").read_text().splitlines()
    assert predictions[0].startswith("id,label,prediction,probability,p_rock")
    assert len(predictions) == 1 + metrics["n_test"]
    assert "macro_f1" in result.stdout and str(folder) in result.stdout
    augmentations = (folder / "augmentations.csv").read_text().splitlines()
    assert augmentations[0] == "epoch,window,id,augmenter,params"
    assert {line.split(",")[3] for line in augmentations[1:]} == {"gain", "specaugment"}


def test_config_yaml_is_enough_to_rerun(finished_run, tmp_path):
    folder, _ = finished_run
    again = mirplug("run", "--config", str(folder / "config.yaml"), f"out={tmp_path}")
    assert again.returncode == 0, again.stderr
    (rerun,) = list(tmp_path.iterdir())
    assert (rerun / "config.yaml").read_text().replace(str(tmp_path), "OUT") == \
        (folder / "config.yaml").read_text().replace(str(folder.parent), "OUT")
    first = json.loads((folder / "metrics.json").read_text())
    second = json.loads((rerun / "metrics.json").read_text())
    assert second["confusion_matrix"] == first["confusion_matrix"]  # same seed, same result


def test_predict_prints_a_label_and_probability_per_file(finished_run, tmp_path):
    folder, _ = finished_run
    clip = write_audio(tmp_path / "clip.flac", tone(330.0, 1.5))
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio")
    result = mirplug("predict", "--run", str(folder), str(clip), str(broken), "--json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    labels = json.loads((folder / "metrics.json").read_text())["labels"]
    assert rows[0]["file"] == str(clip) and rows[0]["prediction"] in labels
    assert abs(sum(rows[0][f"p_{name}"] for name in labels) - 1.0) < 1e-5
    assert rows[0]["probability"] == max(rows[0][f"p_{name}"] for name in labels)
    assert rows[1]["error"].startswith("cannot decode")
    table = mirplug("predict", "--run", str(folder), str(clip))
    assert rows[0]["prediction"] in table.stdout and "probability" in table.stdout


def test_predict_on_a_folder_that_is_not_a_run(tmp_path):
    result = mirplug("predict", "--run", str(tmp_path), "x.wav")
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {tmp_path} is not a run folder (no config.yaml); pass --run runs/<timestamp>-<task>"


def test_an_unknown_backbone_fails_with_one_line_naming_the_choices():
    from mirplug.catalog import load_catalog

    installed = ", ".join(sorted(load_catalog().names("backbone")))  # installed distributions add theirs
    result = mirplug("run", "task=genre", "backbone=nope")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: unknown backbone 'nope'; available backbones: {installed}"]


def test_debug_shows_the_traceback():
    result = mirplug("run", "backbone=nope", env={"MIRPLUG_DEBUG": "1"})
    assert result.returncode != 0 and "Traceback" in result.stderr and "UnknownComponentError" in result.stderr


def test_help_does_not_import_torch():
    code = ("import sys\nfrom mirplug.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('torch' in sys.modules, 'datasets' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip().splitlines()[-1] == "False False"


def test_list_and_plugins_as_json():
    listed = json.loads(mirplug("list", "backbones", "--json").stdout)
    # other installed distributions (mirplug-pretrained) add theirs; the built-ins are these
    assert [b["name"] for b in listed if b["plugin"] == "backbones"] == ["cnn", "fused", "hf", "linear", "mlp", "musicnn"]
    assert {"name": "channels", "type": "int", "default": 16} .items() <= listed[0]["options"][0].items()
    tasks = json.loads(mirplug("list", "tasks", "--json").stdout)
    kinds = {t["name"]: (t["label_kind"], t["main_metric"], t["default_dataset"]) for t in tasks}
    assert kinds == {
        "beats": ("frame-events", "f_measure", "synthetic"),
        "genre": ("single-label", "macro_f1", "synthetic"),
        "instrument": ("single-label", "macro_f1", "synthetic"),
        "key": ("single-label", "weighted_score", "synthetic"),
        "mood": ("regression", "r2_mean", "synthetic"),
        "tagging": ("multi-label", "roc_auc_macro", "synthetic"),
    }
    plugins = json.loads(mirplug("plugins", "--json").stdout)
    backbones = next(p for p in plugins["plugins"] if p["name"] == "backbones")
    assert backbones["distribution"] == "mirplug" and backbones["components"] == ["backbone:cnn", "backbone:fused", "backbone:hf", "backbone:linear", "backbone:mlp", "backbone:musicnn"]
    assert plugins["failed"] == []
    bad = mirplug("list", "backbone5")
    assert bad.returncode == 2 and "did you mean 'backbones'" in bad.stderr


@pytest.mark.parametrize("layout", ["gtzan", "splits"])
def test_run_on_an_audiofolder(tmp_path, layout):
    root = tmp_path / "data"
    for label, freq in (("low", 200.0), ("high", 2000.0)):
        for i in range(6):
            split = "" if layout == "gtzan" else ("train" if i < 4 else "validation" if i == 4 else "test")
            extension = ["wav", "flac", "ogg", "mp3"][i % 4]
            write_audio(root / split / label / f"{i}.{extension}", tone(freq * (1 + 0.05 * i), 1.0, 22050), 22050)
    (root / ("" if layout == "gtzan" else "train") / "low" / "corrupt.wav").write_bytes(b"garbage")
    result = mirplug("run", "task=genre", "data=audiofolder", f"data.path={root}", "data.clip_seconds=0.5",
                     "train.epochs=3", *SMALL_CNN, f"out={tmp_path / 'runs'}", "split.validation=0.2", "split.test=0.2")
    assert result.returncode == 0, result.stderr
    (folder,) = list((tmp_path / "runs").iterdir())
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["labels"] == ["high", "low"]
    assert metrics["n_skipped"] == 1 and "corrupt.wav" in (folder / "skipped.csv").read_text()
    assert metrics["split"]["predefined"] is (layout == "splits")
    if layout == "splits":
        assert (metrics["n_train"], metrics["n_validation"], metrics["n_test"]) == (8, 2, 2)
    assert "skipped" in result.stderr and "corrupt.wav" in result.stderr


def test_an_empty_folder_fails_before_any_work(tmp_path):
    result = mirplug("run", "data=audiofolder", f"data.path={tmp_path}")
    assert result.returncode == 2
    assert result.stderr.strip().startswith(f"error: {tmp_path} holds no audio in label sub-folders")


def test_a_chosen_representation_that_the_backbone_leaves_unused_is_said_before_the_error(tmp_path):
    # the recordings' default (musicnn) says nothing of the representation nobody chose (the test above);
    # one the user chose and musicnn's own front end ignores is named
    result = mirplug("run", "data=audiofolder", f"data.path={tmp_path}", "backbone=musicnn", "representation=cqt")
    assert result.returncode == 2
    notice, error = result.stderr.strip().split("\nerror: ")
    assert "representation 'cqt' is not used" in " ".join(notice.split())
    assert error.startswith(f"{tmp_path} holds no audio in label sub-folders")
