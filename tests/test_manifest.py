"""The manifest dataset: CSV and JSONL files of paths plus labels, tags, numbers or annotations."""

from __future__ import annotations

import json

import pytest
from conftest import tone, write_audio

from mirplug.config import resolve
from mirplug.errors import DataError
from mirplug.runner import run
from mirplug_builtin.datasets.manifest import load


def _clips(root, count=8):
    for i in range(count):
        write_audio(root / "audio" / f"{i}.wav", tone(200.0 + 150.0 * (i % 2), 1.0))


def test_csv_with_labels_tags_and_numbers(tmp_path):
    _clips(tmp_path, 2)
    (tmp_path / "m.csv").write_text("path,label,tags,valence\naudio/0.wav,low,a;b,0.25\naudio/1.wav,high,b,0.75\n")
    dataset = load(str(tmp_path / "m.csv"))
    assert dataset.features["label"].names == ["high", "low"]
    assert dataset["label"] == [1, 0]
    assert dataset.features["tags"].feature.names == ["a", "b"]
    assert dataset["tags"] == [[0, 1], [1]]
    assert dataset["valence"] == [0.25, 0.75]
    assert dataset["audio"][0]["path"] == str(tmp_path / "audio" / "0.wav")


def test_jsonl_with_annotation_files_and_splits(tmp_path):
    _clips(tmp_path, 3)
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "0.txt").write_text("# beat times\n0.5\t1\n1.0\t2\n")
    (tmp_path / "ann" / "1.txt").write_text("0.25,1\n")
    (tmp_path / "ann" / "2.txt").write_text("")
    lines = [{"path": f"audio/{i}.wav", "annotation": f"ann/{i}.txt", "split": s}
             for i, s in enumerate(["train", "val", "test"])]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(line) for line in lines))
    dataset = load(str(tmp_path / "m.jsonl"))
    assert sorted(dataset) == ["test", "train", "validation"]
    assert dataset["train"]["beats"] == [[0.5, 1.0]] and dataset["validation"]["beats"] == [[0.25]]
    assert dataset["test"]["beats"] == [[]]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("file,label\na.wav,x\n", "has no 'path' column; its columns are: file, label"),
        ("path,annotation\naudio/0.wav,missing.txt\n", "annotation file missing.txt not found"),
        ("path,label,split\naudio/0.wav,x,holdout\n", "split 'holdout' is not train, validation or test"),
        ("path,label\n", "has no rows"),
    ],
)
def test_bad_manifests_fail_with_the_file_and_the_problem(tmp_path, content, message):
    (tmp_path / "m.csv").write_text(content)
    with pytest.raises(DataError, match=message):
        load(str(tmp_path / "m.csv"))


def test_a_run_on_a_mood_manifest(catalog, tmp_path):
    _clips(tmp_path, 10)
    rows = "".join(f"audio/{i}.wav,{0.2 + 0.6 * (i % 2)},{0.1 * i}\n" for i in range(10))
    (tmp_path / "m.csv").write_text("path,valence,arousal\n" + rows)
    config = resolve(catalog, ["task=mood", "data=manifest", f"data.path={tmp_path / 'm.csv'}", "train.epochs=2",
                               "data.clip_seconds=0.5", "backbone.channels=4", f"out={tmp_path / 'runs'}"])
    result = run(config, catalog)
    assert set(result.metrics["per_target"]) == {"valence", "arousal"}
    assert (result.folder / "scatter.png").exists()
