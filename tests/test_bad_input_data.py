"""Bad data, tried as a new user would (issue 16): real files on disk with a damaged header, cut off, linked
in loops or to nowhere, a class whose clips are all broken, a cache folder that is a file and a damaged
cache index. Each test is one case; its name says what mirplug does instead of a traceback, an exhausted
memory or data dropped without a word.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import wave
from contextlib import redirect_stderr
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import SMALL_CNN, tone, write_audio

from mirplug.audio import DEFAULT_MAX_SECONDS, BadClip, decode, declared_frames
from mirplug.windows import decode_cells
from mirplug.config import DATA_OPTIONS
from mirplug.errors import DataError
from mirplug_builtin.datasets.audiofolder import load

RUN = ["task=genre", "data=audiofolder", "data.clip_seconds=1.0", "train.epochs=1", "train.batch_size=8", *SMALL_CNN]


def mirplug_main(*args: str) -> tuple[int, str, str]:
    """``mirplug args`` in this process, as the console script runs it: exit code, stdout and stderr."""
    from contextlib import redirect_stdout

    from mirplug.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def one_error_line(code: int, stderr: str) -> str:
    assert code == 2, stderr
    assert stderr.count("\n") == 1 and stderr.startswith("error: "), stderr
    return stderr[len("error: "):].rstrip("\n")


def wav_saying(path: Path, rate: int, n_bytes: int) -> Path:
    """A 16-bit mono WAV of ``n_bytes`` of noise whose header says ``rate`` Hz."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes((np.random.default_rng(0).standard_normal(n_bytes // 2) * 3000).astype("<i2").tobytes())
    return path


def cut(path: Path, keep: float = 1 / 3) -> Path:
    """Cut the file after ``keep`` of its bytes, as an interrupted copy does."""
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    return path


def class_folder(folder: Path, frequency: float, clips: int = 5) -> Path:
    for index in range(clips):
        write_audio(folder / f"{folder.name}{index}.wav", tone(frequency * (1 + index / 20), 1.0))
    return folder


# --------------------------------------------------------------------------------------
# Bounded, validated decoding: checked from the header before any sample is read
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_bytes", [8_000, 300_000])  # 256 MB and 9.6 GB at 16 kHz before
def test_a_header_that_says_1_hz_is_refused_before_decoding(tmp_path, n_bytes):
    path = wav_saying(tmp_path / "one-hertz.wav", 1, n_bytes)
    with pytest.raises(BadClip, match=r"^implausible sample rate in the header: 1 Hz \(expected 1000 to 768000 Hz\)"):
        decode(str(path), 16000)


def test_a_sample_rate_above_the_plausible_range_is_refused(tmp_path):
    with pytest.raises(BadClip, match="implausible sample rate in the header: 4000000 Hz"):
        decode(str(wav_saying(tmp_path / "fast.wav", 4_000_000, 8_000)), 16000)


def test_the_plausible_range_ends_are_accepted(tmp_path):
    assert len(decode(str(wav_saying(tmp_path / "low.wav", 1000, 2_000)), 1000).samples) == 1000
    assert len(decode(str(wav_saying(tmp_path / "high.wav", 768_000, 15_360)), 16000).samples) == 160


@pytest.mark.parametrize(("format_", "extension"), [("WAV", "wav"), ("AIFF", "aiff"), ("AU", "au")])
def test_a_truncated_file_is_refused_naming_both_lengths(tmp_path, format_, extension):
    path = tmp_path / f"cut.{extension}"
    soundfile.write(str(path), tone(440.0, 2.0), 16000, format=format_, subtype="PCM_16")
    cut(path)
    with pytest.raises(BadClip, match=r"^truncated: the header promises 32000 frames \(2.00 s\), the file holds 1\d{4} "):
        decode(str(path), 16000)


def test_truncated_bytes_are_refused_too(tmp_path):
    path = write_audio(tmp_path / "a.wav", tone(440.0, 2.0))
    with pytest.raises(BadClip, match="^truncated: "):
        decode(path.read_bytes()[:20_000], 16000)


def test_a_wav_whose_writer_left_the_data_size_unset_is_not_called_truncated(tmp_path):
    path = write_audio(tmp_path / "stream.wav", tone(440.0, 1.0))
    data = bytearray(path.read_bytes())
    position = data.index(b"data")
    data[position + 4:position + 8] = (0xFFFFFFFF).to_bytes(4, "little")  # as ffmpeg writing to a pipe
    path.write_bytes(bytes(data))
    assert declared_frames(str(path), "WAV") is None
    assert len(decode(str(path), 16000).samples) == 16000


def test_a_complete_wav_with_a_chunk_after_its_data_is_not_truncated(tmp_path):
    path = write_audio(tmp_path / "tagged.wav", tone(440.0, 1.0))
    data = path.read_bytes() + b"LIST" + (4).to_bytes(4, "little") + b"INFO"
    path.write_bytes(data[:4] + (len(data) - 8).to_bytes(4, "little") + data[8:])
    assert declared_frames(str(path), "WAV") == 16000 and len(decode(str(path), 16000).samples) == 16000


def test_a_clip_longer_than_max_seconds_is_refused_from_its_header(tmp_path):
    path = write_audio(tmp_path / "long.wav", tone(440.0, 3.0))
    with pytest.raises(BadClip, match=r"^longer than data.max_seconds=2: 3.0 s; raise data.max_seconds to use it"):
        decode(str(path), 16000, max_seconds=2.0)
    assert len(decode(str(path), 16000, max_seconds=None).samples) == 48000


def test_max_seconds_has_one_default_and_applies_to_clips_found_in_the_cache(tmp_path):
    assert next(o for o in DATA_OPTIONS if o.name == "max_seconds").default == DEFAULT_MAX_SECONDS
    path = write_audio(tmp_path / "long.wav", tone(440.0, 3.0))
    first = decode_cells([{"path": str(path), "bytes": None}], ["long"], 16000, 1.0, 3, "train")
    assert first.rows == [0]  # decoded and cached with the default limit
    again = decode_cells([{"path": str(path), "bytes": None}], ["long"], 16000, 1.0, 3, "train", max_seconds=2.0)
    assert again.rows == [] and again.skipped[0]["reason"] == (
        "longer than data.max_seconds=2: 3.0 s; raise data.max_seconds to use it")


# --------------------------------------------------------------------------------------
# Links in an audio folder: followed, or reported with the reason
# --------------------------------------------------------------------------------------
def test_a_symlinked_class_folder_is_followed(tmp_path):
    class_folder(tmp_path / "data" / "low", 220.0)
    class_folder(tmp_path / "elsewhere" / "high", 880.0)
    (tmp_path / "data" / "high").symlink_to(tmp_path / "elsewhere" / "high", target_is_directory=True)
    dataset = load(str(tmp_path / "data"))  # one real folder and one link: two labels, not "a single label"
    assert dataset.features["label"].names == ["high", "low"] and dataset["label"].count(0) == 5


def test_loops_and_dangling_links_become_rows_that_the_run_reports(tmp_path):
    data = tmp_path / "data"
    class_folder(data / "low", 220.0)
    class_folder(data / "high", 880.0)
    (data / "low" / "again").symlink_to(data, target_is_directory=True)  # a loop: not entered, reported
    (data / "high" / "gone.wav").symlink_to(tmp_path / "nowhere.wav")
    (data / "high" / "self.wav").symlink_to(data / "high" / "self.wav")
    (data / "high" / "notes.txt").symlink_to(tmp_path / "nowhere.txt")  # not audio: not a row
    ids = load(str(data))["id"]
    assert len(ids) == 13 and {"low/again", "high/gone.wav", "high/self.wav"} <= set(ids)
    cells = [{"path": str(data / row_id), "bytes": None} for row_id in ("low/again", "high/gone.wav", "high/self.wav")]
    reasons = [row["reason"] for row in decode_cells(cells, ["a", "b", "c"], 16000, 1.0, 1, "train").skipped]
    assert reasons == [
        f"symbolic link loop: it leads to {data.resolve()}, a folder above it; not followed",
        f"dangling symbolic link: its target {tmp_path / 'nowhere.wav'} does not exist",
        f"symbolic link loop: following {data / 'high' / 'self.wav'} never reaches a file",
    ]


def read_skipped(folder: Path) -> dict[str, str]:
    with open(folder / "skipped.csv", newline="") as handle:
        return {Path(row["path"]).name: row["reason"] for row in csv.DictReader(handle)}


def test_a_run_reports_every_bad_file_in_skipped_csv_and_uses_the_linked_class(tmp_path):
    from rich.console import Console

    from mirplug.catalog import load_catalog
    from mirplug.config import resolve
    from mirplug.runner import run

    data = tmp_path / "data"  # enough good clips that every label keeps one in each split (seed 0)
    class_folder(data / "low", 220.0, clips=8)
    class_folder(data / "high", 1760.0, clips=8)
    class_folder(tmp_path / "elsewhere" / "mid", 660.0, clips=8)
    (data / "mid").symlink_to(tmp_path / "elsewhere" / "mid", target_is_directory=True)
    wav_saying(data / "low" / "one-hertz.wav", 1, 8_000)
    cut(write_audio(data / "low" / "cut.wav", tone(330.0, 2.0)))
    (data / "low" / "again").symlink_to(data, target_is_directory=True)
    (data / "high" / "gone.wav").symlink_to(tmp_path / "nowhere.wav")
    write_audio(data / "high" / "long.wav", tone(1500.0, 3.0))
    catalog = load_catalog()
    config = resolve(catalog, [*RUN, f"data.path={data}", "data.max_seconds=2.5", f"out={tmp_path / 'runs'}"])
    result = run(config, catalog, Console(file=io.StringIO()))
    assert result.metrics["labels"] == ["high", "low", "mid"]
    reasons = read_skipped(result.folder)
    assert sorted(reasons) == ["again", "cut.wav", "gone.wav", "long.wav", "one-hertz.wav"]
    assert reasons["one-hertz.wav"].startswith("implausible sample rate in the header: 1 Hz")
    assert reasons["cut.wav"].startswith("truncated: the header promises 32000 frames")
    assert reasons["again"].startswith("symbolic link loop") and reasons["gone.wav"].startswith("dangling symbolic link")
    assert reasons["long.wav"].startswith("longer than data.max_seconds=2.5")
    assert result.metrics["n_skipped"] == 5


def test_a_label_whose_clips_all_fail_stops_the_run_naming_it_and_skipped_csv(tmp_path):
    data = tmp_path / "data"
    class_folder(data / "low", 220.0)
    class_folder(data / "high", 1760.0)
    for index in range(5):
        (data / "mid" / f"mid{index}.wav").parent.mkdir(parents=True, exist_ok=True)
        (data / "mid" / f"mid{index}.wav").write_bytes(b"RIFF\0\0\0\0garbage, not audio")
    code, _, err = mirplug_main("run", *RUN, f"data.path={data}", f"out={tmp_path / 'runs'}")
    (folder,) = (tmp_path / "runs").iterdir()
    lines = err.strip().splitlines()  # the skipped files as the run met them, then the one error line
    assert code == 2 and "Traceback" not in err and all(line.startswith("skipped ") for line in lines[:-1])
    assert "cannot decode: Format not recognised." in lines[0] and "0x" not in err
    assert one_error_line(code, lines[-1] + "\n") == (
        f"label 'mid' lost all 5 of its clips to decoding; the reasons are in {folder / 'skipped.csv'}: fix or remove "
        f"those files (the split is drawn again without them), or remove the label, and run again")
    assert sorted(read_skipped(folder)) == [f"mid{index}.wav" for index in range(5)]


def test_a_label_that_loses_every_test_clip_stops_the_run_too(tmp_path):
    from mirplug.runner import check_nothing_lost
    from mirplug_builtin.datasets.audiofolder import folder_dataset

    rows = [(f"/x/{label}{i}.wav", label, f"{label}{i}") for label in ("a", "b") for i in range(2)]
    split = folder_dataset(rows, ["a", "b"])
    windows = {name: type("W", (), {"rows": rows_kept, "skipped": []})()
               for name, rows_kept in (("train", [0, 1, 2, 3]), ("validation", [0, 1, 2, 3]), ("test", [2, 3]))}
    with pytest.raises(DataError, match=r"^label 'a' lost all 2 of its test clips to decoding; the reasons are in "):
        check_nothing_lost({name: split for name in windows}, windows, "label", ["a", "b"], [], tmp_path)
    assert (tmp_path / "skipped.csv").is_file()


# --------------------------------------------------------------------------------------
# The cache folder and its index
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("below", [False, True], ids=["the-file", "a-folder-under-it"])
@pytest.mark.parametrize("command", [["cache", "info"], ["cache", "clear"], ["run", "task=genre"]])
def test_mirplug_cache_dir_pointing_at_a_file_is_one_line(tmp_path, monkeypatch, command, below):
    (tmp_path / "file").write_text("not a folder")
    value = str(tmp_path / "file" / "cache") if below else str(tmp_path / "file")
    monkeypatch.setenv("MIRPLUG_CACHE_DIR", value)
    code, _, err = mirplug_main(*command)
    what = f"lies under {tmp_path / 'file'}, which is a file" if below else "is a file"
    assert one_error_line(code, err) == (f"MIRPLUG_CACHE_DIR={value} {what}, not a folder; point MIRPLUG_CACHE_DIR "
                                         f"at a folder (it is made if missing)")


@pytest.fixture
def filled_cache(tmp_path, monkeypatch) -> Path:
    """A private cache with features, decoded windows, a generated dataset and a fitted generator's folder."""
    from mirplug.cache import EntryStore, features_root
    from mirplug_builtin.datasets.synthetic import dataset_folder

    cache = tmp_path / "cache"
    monkeypatch.setenv("MIRPLUG_CACHE_DIR", str(cache))
    import torch

    for prefix in ("windows", "mel"):
        store = EntryStore(prefix, {"sample_rate": 16000, "kind": prefix})
        for index in range(3):
            store.save(f"{index:032x}", torch.full((2, 4), float(index)))
    dataset_folder(3, 0.5, 16000, 2, 0)
    (cache / "generators" / "vae-0123").mkdir(parents=True)
    (cache / "generators" / "vae-0123" / "generator.safetensors").write_bytes(b"0" * 100)
    assert len(list(features_root().glob("*/settings.json"))) == 2
    return cache


@pytest.mark.parametrize("damage", [lambda p: p.write_bytes(p.read_bytes()[:7]),
                                    lambda p: p.write_bytes(b"\xff\xfe\x00garbled\x80"),
                                    lambda p: p.write_text("[1, 2]")], ids=["truncated", "garbled", "not-a-mapping"])
def test_cache_info_and_clear_survive_a_damaged_settings_json(filled_cache, damage):
    for settings in sorted((filled_cache / "features").glob("*/settings.json")):
        damage(settings)
    code, out, err = mirplug_main("cache", "info")
    assert code == 0, err
    assert out.count("settings.json missing or damaged") == 2 and "2 folders, 6 entries" in out
    assert "1 fitted generators" in out and "1 generated datasets (6 clips" in out
    code, out, err = mirplug_main("cache", "clear")
    assert code == 0, err
    assert out.startswith(f"removed 6 entries (") and "1 fitted generators (" in out
    assert f"1 generated datasets (6 clips, " in out and str(filled_cache / "datasets") in out
    assert not any(filled_cache.iterdir())  # features/, generators/ and datasets/ are gone, locks too


def test_the_next_writer_writes_a_damaged_settings_json_again(filled_cache):
    import torch

    from mirplug.cache import EntryStore, cache_info

    store = EntryStore("mel", {"sample_rate": 16000, "kind": "mel"})
    (store.folder / "settings.json").write_text("{trunc")
    assert [folder.settings for folder in cache_info() if folder.name == store.folder.name] == [None]
    EntryStore("mel", {"sample_rate": 16000, "kind": "mel"}).save("f" * 32, torch.zeros(1))
    assert json.loads((store.folder / "settings.json").read_text())["kind"] == "mel"


def test_cache_clear_keeps_a_dataset_another_process_is_building_and_says_so(filled_cache):
    from mirplug.cache import cache_clear

    (dataset,) = [p for p in (filled_cache / "datasets").iterdir() if p.is_dir()]
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from filelock import FileLock; "
                               "held = FileLock(sys.argv[1]); held.acquire(); print('held', flush=True); time.sleep(60)",
                               f"{dataset}.lock"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        cleared = cache_clear()
    finally:
        holder.kill()
        holder.wait()
    assert cleared.in_use == [str(dataset)] and dataset.is_dir()
    assert cleared.entries == 6 and not (filled_cache / "features").exists()
