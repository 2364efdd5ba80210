"""data=mirdata on tiny fabricated copies of giantsteps_key, gtzan_genre and mtg_jamendo_autotagging_moodtheme.

mirdata 1.0 reads a dataset's index from inside its own package (``mirdata/datasets/indexes/``), where
``Dataset.download()`` puts the file it fetches from Zenodo; the tests write their fabricated index
there (and put back whatever was there before), and real WAV/MP3 files under ``data.home``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
from pretrained_support import cache_folder, private_dirs  # noqa: F401

from mirplug.errors import DataError

mirdata = pytest.importorskip("mirdata")

MIRPLUG = str(Path(sys.executable).parent / "mirplug")
PITCH = {"A minor": 220.0, "C major": 261.63, "Eb major": 311.13, "X": 200.0}


def tone(frequency: float, seconds: float = 1.5, sample_rate: int = 22050) -> np.ndarray:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (0.3 * np.sin(2 * np.pi * frequency * t) + 0.2 * np.sin(3 * np.pi * frequency * t)).astype(np.float32)


def write(path: Path, samples: np.ndarray, sample_rate: int = 22050) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), samples, sample_rate)
    return str(path)


@pytest.fixture
def install_index() -> Iterator:
    """Write a fabricated index where mirdata reads it; restore the folder afterwards."""
    import importlib

    written: list[tuple[Path, bytes | None]] = []

    def install(name: str, tracks: dict, version: str = "default") -> Path:
        module = importlib.import_module(f"mirdata.datasets.{name}")
        key = module.INDEXES[version] if not isinstance(module.INDEXES[version], str) else \
            module.INDEXES[module.INDEXES[version]]
        path = Path(key.get_path())
        written.append((path, path.read_bytes() if path.exists() else None))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"version": version, "tracks": tracks}))
        return path

    yield install
    for path, before in reversed(written):
        if before is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(before)


def fabricate_giantsteps(home: Path) -> dict:
    """14 indexed tracks: 12 with MP3 audio and a key (3 keys, one spelt with a flat), one key 'X', one without audio."""
    tracks = {}
    keys = ["A minor", "C major", "Eb major"] * 4 + ["X", "C major"]
    for number, key in enumerate(keys):
        track_id = str(1000 + number)
        audio = f"audio/{track_id}.LOFI.mp3"
        if number < 13:
            write(home / audio, tone(PITCH[key] * (1 + 0.01 * number)))
        (home / "keys_gs+").mkdir(parents=True, exist_ok=True)
        (home / "keys_gs+" / f"{track_id}.LOFI.txt").write_text(f"{key}\n")
        tracks[track_id] = {"audio": [audio, "0"], "key": [f"keys_gs+/{track_id}.LOFI.txt", "0"],
                            "meta": [None, None]}
    return tracks


def gtzan_ids() -> dict[str, list[str]]:
    from torchaudio.datasets import gtzan

    chosen: dict[str, list[str]] = {}
    for genre in ("blues", "classical"):
        for part, ids, count in (("train", gtzan.filtered_train, 3), ("validation", gtzan.filtered_valid, 2),
                                 ("test", gtzan.filtered_test, 2)):
            chosen.setdefault(part, []).extend([i for i in ids if i.startswith(genre + ".")][:count])
    # two clips the fault-filtered split leaves out (of other genres: it keeps every blues and classical one)
    listed = set(gtzan.filtered_train) | set(gtzan.filtered_valid) | set(gtzan.filtered_test)
    chosen["outside"] = [f"{genre}.{n:05d}" for genre in gtzan.gtzan_genres for n in range(100)
                         if f"{genre}.{n:05d}" not in listed][:2]
    return chosen


def fabricate_gtzan(home: Path) -> tuple[dict, dict[str, list[str]]]:
    ids = gtzan_ids()
    tracks = {}
    for part in ids.values():
        for track_id in part:
            genre = track_id.split(".")[0]
            audio = f"gtzan_genre/genres/{genre}/{track_id}.wav"
            write(home / audio, tone({"blues": 220.0, "classical": 880.0}.get(genre, 440.0)))
            beats = f"gtzan_tempo_beat-main/beats/gtzan_{genre}_{track_id.split('.')[1]}.beats"
            (home / beats).parent.mkdir(parents=True, exist_ok=True)
            (home / beats).write_text("0.5\t1\n1.0\t2\n")
            tracks[track_id] = {"audio": [audio, "0"], "beats": [beats, "0"], "tempo": [None, None]}
    return tracks, ids


def test_key_run_on_a_fabricated_giantsteps_key(install_index, tmp_path: Path) -> None:
    home = tmp_path / "giantsteps_key"
    install_index("giantsteps_key", fabricate_giantsteps(home))
    result = subprocess.run([MIRPLUG, "run", "task=key", "data=mirdata", "data.name=giantsteps_key",
                             f"data.home={home}", "data.clip_seconds=1.0", "train.epochs=2", f"out={tmp_path / 'runs'}"],
                            capture_output=True, text=True, env=os.environ.copy(), timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    (run_folder,) = (tmp_path / "runs").iterdir()
    metrics = json.loads((run_folder / "metrics.json").read_text())
    assert metrics["labels"] == ["A minor", "C major", "D# major"]  # Eb spelt as the key task's sharps
    assert metrics["n_train"] + metrics["n_validation"] + metrics["n_test"] == 12
    assert 0.0 <= metrics["weighted_score"] <= 1.0
    assert "left out 1 track(s) whose audio is not in" in result.stderr
    assert "and 1 without a key annotation" in result.stderr


def test_genre_run_on_a_fabricated_gtzan_uses_the_fault_filtered_split(install_index, tmp_path: Path) -> None:
    from mirplug.catalog import load_catalog
    from mirplug.config import resolve
    from mirplug.runner import run

    home = tmp_path / "gtzan"
    tracks, ids = fabricate_gtzan(home)
    install_index("gtzan_genre", tracks)
    catalog = load_catalog()
    config = resolve(catalog, ["task=genre", "data=mirdata", "data.name=gtzan_genre", f"data.home={home}",
                               "data.clip_seconds=1.0", "backbone=mlp", "train.epochs=1", f"out={tmp_path / 'runs'}"])
    result = run(config, catalog)
    assert (result.metrics["n_train"], result.metrics["n_validation"], result.metrics["n_test"]) == (6, 4, 4)
    assert result.metrics["labels"] == ["blues", "classical"]
    predicted = (result.folder / "predictions.csv").read_text()
    assert all(track_id in predicted for track_id in ids["test"])
    assert not any(track_id in predicted for track_id in ids["outside"] + ids["train"])


def test_the_loader_maps_annotations_and_splits(install_index, tmp_path: Path) -> None:
    from mirplug_pretrained.mirdata_loader import load

    home = tmp_path / "gtzan"
    tracks, ids = fabricate_gtzan(home)
    install_index("gtzan_genre", tracks)
    official = load(name="gtzan_genre", home=str(home), task="genre")
    assert {part: sorted(official[part]["id"]) for part in official} == {
        part: sorted(ids[part]) for part in ("train", "validation", "test")}
    assert official["train"].features["label"].names == ["blues", "classical"]
    everything = load(name="gtzan_genre", home=str(home), task="beats", split="random")
    assert len(everything) == 16 and everything[0]["beats"] == [0.5, 1.0]
    with pytest.raises(DataError, match="data.name=gtzan_genre has annotations for task genre or beats, not task=key"):
        load(name="gtzan_genre", home=str(home), task="key")


def test_mtg_jamendo_tags_with_its_official_split(install_index, tmp_path: Path) -> None:
    from mirplug_pretrained.mirdata_loader import load

    home = tmp_path / "mtg"
    tags = {"track_0000001": ["happy", "film"], "track_0000002": ["sad"], "track_0000003": ["happy"],
            "track_0000004": ["sad", "film"]}
    tracks, rows = {}, ["TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS"]
    for number, (track_id, names) in enumerate(tags.items()):
        audio = f"audios/0{number}/{track_id[-1]}.low.mp3"
        write(home / audio, tone(300.0 + 50 * number))
        tracks[track_id] = {"audio": [audio, "0"]}
        rows.append("\t".join([track_id, f"artist_{number}", f"album_{number}", audio, "1.5",
                               *(f"mood/theme---{name}" for name in names)]))
    (home / "data").mkdir(parents=True)
    (home / "data" / "autotagging_moodtheme.tsv").write_text("\n".join(rows) + "\n")
    parts = {"train": ["track_0000001", "track_0000002"], "validation": ["track_0000003"], "test": ["track_0000004"]}
    for number in range(5):
        folder = home / "data" / "splits" / f"split-{number}"
        folder.mkdir(parents=True)
        # split-1 is the one asked for; the others put every track in train
        chosen = parts if number == 1 else {"train": list(tags), "validation": [], "test": []}
        for part, members in chosen.items():
            (folder / f"autotagging_moodtheme-{part}.tsv").write_text(
                "TRACK_ID\tPATH\n" + "".join(f"{member}\tx\n" for member in members))
    install_index("mtg_jamendo_autotagging_moodtheme", tracks)
    split = load(name="mtg_jamendo_autotagging_moodtheme", home=str(home), task="tagging", split_number=1)
    assert {part: list(split[part]["id"]) for part in split} == parts
    names = split["train"].features["tags"].feature.names
    assert names == ["film", "happy", "sad"]
    assert [[names[i] for i in row] for row in split["train"]["tags"]] == [["film", "happy"], ["sad"]]


def test_a_missing_index_is_one_line_and_nothing_is_downloaded(tmp_path: Path) -> None:
    from mirplug_pretrained.mirdata_loader import load

    (tmp_path / "beatles").mkdir()
    index = Path(mirdata.initialize("beatles", data_home=str(tmp_path / "beatles")).index_path)
    if index.exists():
        pytest.skip(f"a real beatles index is installed at {index}")
    with pytest.raises(DataError) as info:
        load(name="beatles", home=str(tmp_path / "beatles"), task="beats")
    message = str(info.value)
    assert message.startswith(f"mirdata's index of beatles is missing: {index} (mirdata fetches it from https://")
    assert message.endswith("add data.download=true to let mirdata download the index and the dataset into "
                            f"{tmp_path / 'beatles'}, or put the index file there")
    assert list((tmp_path / "beatles").iterdir()) == []
    with pytest.raises(DataError, match="data=mirdata needs data.home=DIR, the folder holding beatles"):
        load(name="beatles", task="beats")


def test_list_datasets_shows_the_mapping() -> None:
    result = subprocess.run([MIRPLUG, "list", "datasets", "--json"], capture_output=True, text=True, timeout=120)
    (entry,) = [item for item in json.loads(result.stdout) if item["name"] == "mirdata"]
    assert "giantsteps_key -> key" in entry["summary"] and "gtzan_genre -> genre, beats" in entry["summary"]
    assert entry["plugin"] == "mirdata"
    name = next(option for option in entry["options"] if option["name"] == "name")
    assert "mtg_jamendo_autotagging_moodtheme" in name["choices"]


def test_without_mirdata_only_its_plugin_fails_and_says_what_to_install(monkeypatch) -> None:
    import importlib.util

    from mirplug.catalog import load_catalog

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mirdata" else real(name, *a))
    monkeypatch.delitem(sys.modules, "mirplug_pretrained.mirdata_plugin", raising=False)
    catalog = load_catalog()
    (failure,) = [f for f in catalog.failures if f.name == "mirdata"]
    assert (failure.distribution, failure.stage) == ("mirplug-pretrained", "import")
    assert failure.error == "ImportError: data=mirdata needs the mirdata package: pip install mirdata"
    assert {entry.spec.name for entry in catalog.all("backbone") if entry.plugin == "pretrained"} == {
        "vggish", "yamnet", "openl3", "panns"}
