"""The feature cache: reuse by content and settings, corruption recovery, short clips, runner and CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from mirplug import cache, inference
from mirplug import windows as windowing
from mirplug_builtin.representations.mel import LogMel

SAMPLE_RATE = 16000
MIRPLUG = str(Path(sys.executable).parent / "mirplug")  # the console script of this environment


@pytest.fixture(autouse=True)
def _fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own empty cache folder and zeroed counters."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("MIRPLUG_CACHE_DIR", str(folder))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache.STATS.clear()
    return folder


def write_clips(folder: Path, seconds: list[float]) -> list[Path]:
    """One tone per clip (distinct pitch, so distinct content), in a two-label audiofolder layout."""
    paths = []
    for index, length in enumerate(seconds):
        t = np.arange(int(length * SAMPLE_RATE)) / SAMPLE_RATE
        samples = (0.3 * np.sin(2 * np.pi * (220.0 + 37.0 * index) * t)).astype(np.float32)
        path = folder / ("low" if index % 2 else "high") / f"clip{index}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(path), samples, SAMPLE_RATE)
        paths.append(path)
    return paths


def features_for(paths: list[Path], n_mels: int = 32, clip_seconds: float = 1.0) -> torch.Tensor:
    """Decode and featurize through the cache, as the runner does."""
    mel = LogMel(sample_rate=SAMPLE_RATE, n_mels=n_mels)
    windows = windowing.decode_cells([{"path": str(p), "bytes": None} for p in paths], [p.name for p in paths],
                                 SAMPLE_RATE, clip_seconds, 4, "train", windowing.min_samples_of(mel))
    settings = cache.representation_settings("mel", {"n_mels": n_mels}, mel, clip_seconds, 4)
    return inference.featurize_cached(mel, settings, windows, "cpu")


def test_second_pass_reuses_every_entry_and_matches(tmp_path: Path) -> None:
    paths = write_clips(tmp_path / "audio", [0.5, 1.0, 2.5])  # 2.5 s gives 3 windows of 1 s
    first = features_for(paths)
    assert dict(cache.STATS) == {"windows_decoded": 3, "features_computed": 3, "features_loaded": 0}
    cache.STATS.clear()
    second = features_for(paths)
    assert dict(cache.STATS) == {"windows_loaded": 3, "features_loaded": 3}
    assert first.shape == (5, 32, 51)
    assert torch.equal(first, second)


def test_cached_features_skip_the_windows_of_their_clips_only(tmp_path: Path) -> None:
    paths = write_clips(tmp_path / "audio", [1.0, 2.0, 1.5])
    reference = features_for(paths)
    mel = LogMel(sample_rate=SAMPLE_RATE, n_mels=32)
    settings = cache.representation_settings("mel", {"n_mels": 32}, mel, 1.0, 4)
    cache.feature_store(settings).path(cache.content_hash(paths[1].read_bytes())).unlink()
    cache.STATS.clear()
    windows = windowing.decode_cells([{"path": str(p)} for p in paths], ["a", "b", "c"], SAMPLE_RATE, 1.0, 4, "train",
                                 512, None, cache.feature_store(settings))
    assert dict(cache.STATS) == {"windows_not_needed": 2, "windows_loaded": 1}
    assert windows.clip.tolist() == [0, 1, 1, 2, 2] and windows.seconds == [1.0, 2.0, 1.5]
    assert torch.equal(inference.featurize_cached(mel, settings, windows, "cpu"), reference)
    assert cache.STATS["features_computed"] == 1 and cache.STATS["features_loaded"] == 2


def test_a_changed_setting_recomputes(tmp_path: Path) -> None:
    paths = write_clips(tmp_path / "audio", [1.0, 1.0])
    features_for(paths, n_mels=32)
    cache.STATS.clear()
    assert features_for(paths, n_mels=40).shape == (2, 40, 51)
    assert cache.STATS["features_computed"] == 2 and cache.STATS["windows_loaded"] == 2
    cache.STATS.clear()
    features_for(paths, n_mels=40, clip_seconds=0.5)  # other windows: decode and features again
    assert cache.STATS["windows_decoded"] == 2 and cache.STATS["features_computed"] == 2
    # the same audio under another file name is the same content: nothing recomputed
    copy = tmp_path / "copy.wav"
    copy.write_bytes(paths[0].read_bytes())
    cache.STATS.clear()
    features_for([copy], n_mels=40)
    assert dict(cache.STATS) == {"windows_loaded": 1, "features_loaded": 1}


def test_a_new_revision_of_a_representation_recomputes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = write_clips(tmp_path / "audio", [1.0, 1.0])
    first = features_for(paths)
    assert "revision" not in cache.representation_settings("mel", {}, LogMel(), 1.0, 4)  # keys of revision 0 kept
    monkeypatch.setattr(LogMel, "revision", 1)
    cache.STATS.clear()
    assert torch.equal(features_for(paths), first)
    assert cache.STATS["features_computed"] == 2 and cache.STATS["features_loaded"] == 0


def test_an_edited_file_is_hashed_again_and_recomputed(tmp_path: Path) -> None:
    paths = write_clips(tmp_path / "audio", [1.0, 1.0])
    before = features_for(paths)
    samples, _ = soundfile.read(str(paths[0]), dtype="float32")
    soundfile.write(str(paths[0]), samples[::-1].copy(), SAMPLE_RATE)  # same size, other content
    stamp = paths[0].stat()
    os.utime(paths[0], ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000_000))
    cache.STATS.clear()
    after = features_for(paths)
    assert cache.STATS["windows_decoded"] == 1 and cache.STATS["features_computed"] == 1
    assert cache.STATS["features_loaded"] == 1
    assert torch.equal(after[1], before[1]) and not torch.equal(after[0], before[0])


def test_corrupt_entries_are_detected_and_recomputed(tmp_path: Path) -> None:
    paths = write_clips(tmp_path / "audio", [1.0, 1.0, 1.0])
    reference = features_for(paths)
    feature_files = sorted(p for p in cache.features_root().glob("mel-*/*.safetensors"))
    assert len(feature_files) == 3
    truncated, flipped = feature_files[0], feature_files[1]
    truncated.write_bytes(truncated.read_bytes()[:-100])
    data = bytearray(flipped.read_bytes())
    data[-10] ^= 0xFF  # same size, altered tensor bytes: only the checksum can tell
    flipped.write_bytes(bytes(data))
    cache.STATS.clear()
    again = features_for(paths)
    assert cache.STATS["corrupt"] == 2
    assert cache.STATS["features_computed"] == 2 and cache.STATS["features_loaded"] == 1
    assert torch.equal(again, reference)
    cache.STATS.clear()
    features_for(paths)
    assert cache.STATS["features_loaded"] == 3 and cache.STATS["corrupt"] == 0


def test_windows_can_be_left_out_of_the_cache(tmp_path: Path) -> None:
    paths = write_clips(tmp_path / "audio", [1.0, 2.5])
    cells = [{"path": str(p)} for p in paths]
    for _ in range(2):  # nothing stored, so the second pass decodes again
        cache.STATS.clear()
        windows = windowing.decode_cells(cells, ["a", "b"], SAMPLE_RATE, 1.0, 4, "train", 512, keep_windows=False)
        assert dict(cache.STATS) == {"windows_decoded": 2} and len(windows.waves) == 4
    assert not cache.features_root().exists() or not list(cache.features_root().glob("windows-*"))
    assert list(cache.features_root().glob("paths/*.json"))  # content hashes are still remembered


def test_a_clip_shorter_than_one_frame_is_skipped(tmp_path: Path) -> None:
    paths = write_clips(tmp_path / "audio", [1.0, 0.01])  # 160 samples < n_fft 512
    mel = LogMel(sample_rate=SAMPLE_RATE)
    windows = windowing.decode_cells([{"path": str(p)} for p in paths], ["a", "b"], SAMPLE_RATE, 1.0, 4, "train",
                                 windowing.min_samples_of(mel))
    assert windows.rows == [0]
    assert windows.skipped == [{"split": "train", "id": "b", "path": str(paths[1]),
                                "reason": "shorter than one analysis frame: 160 samples < 512 (32.0 ms at 16000 Hz)"}]
    # the second time the windows come from the cache and the clip is still skipped
    windows = windowing.decode_cells([{"path": str(p)} for p in paths], ["a", "b"], SAMPLE_RATE, 1.0, 4, "train", 512)
    assert windows.rows == [0] and len(windows.skipped) == 1 and cache.STATS["windows_loaded"] == 2


def decode_and_featurize(paths: list[Path], featurizer: bool) -> tuple[torch.Tensor, windowing.CachedWindows]:
    """As the runner does with a feature store, with or without featurizing in the decoding threads."""
    mel = LogMel(sample_rate=SAMPLE_RATE, n_mels=32)
    settings = cache.representation_settings("mel", {"n_mels": 32}, mel, 1.0, 4)
    windows = windowing.decode_cells([{"path": str(p)} for p in paths], [p.name for p in paths], SAMPLE_RATE, 1.0, 4,
                                 "train", windowing.min_samples_of(mel), None, cache.feature_store(settings),
                                 inference.featurizer_while_decoding(mel, "cpu") if featurizer else None)
    return inference.featurize_cached(mel, settings, windows, "cpu"), windows


@pytest.mark.parametrize("threads", ["1", "2"])
def test_features_computed_in_the_decoding_threads_equal_batched_ones(tmp_path: Path, threads: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIRPLUG_DECODE_THREADS", threads)
    paths = write_clips(tmp_path / "audio", [1.0, 2.5, 0.01, 1.5, 3.0])  # the 10 ms clip is skipped
    reference, _ = decode_and_featurize(paths, featurizer=False)
    cache.cache_clear()
    cache.STATS.clear()
    torch_threads = torch.get_num_threads()
    features, windows = decode_and_featurize(paths, featurizer=True)
    assert torch.get_num_threads() == torch_threads  # restored after the decoding threads
    assert windows.fresh == [True, True, True, True] and windows.rows == [0, 1, 3, 4]
    assert not windows.waves.any()  # the windows of featurized clips are not kept
    assert dict(cache.STATS) == {"windows_decoded": 5, "features_computed": 4, "features_loaded": 0}
    torch.testing.assert_close(features, reference, rtol=0, atol=1e-4)  # float rounding of the batch only
    cache.STATS.clear()
    again, windows = decode_and_featurize(paths, featurizer=True)  # now every feature is cached
    assert windows.fresh == [False] * 4 and torch.equal(again, features)
    assert dict(cache.STATS) == {"windows_not_needed": 4, "windows_loaded": 1, "features_loaded": 4}


def test_decoding_threads_featurize_with_their_share_of_torch_threads(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIRPLUG_DECODE_THREADS", "2")
    paths = write_clips(tmp_path / "audio", [1.0, 1.0, 1.0, 1.0])
    mel = LogMel(sample_rate=SAMPLE_RATE, n_mels=32)
    seen: list[int] = []

    def featurizer(waves: torch.Tensor) -> torch.Tensor:
        seen.append(torch.get_num_threads())
        return mel(waves)

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        windowing.decode_cells([{"path": str(p)} for p in paths], ["a", "b", "c", "d"], SAMPLE_RATE, 1.0, 4, "train",
                           512, None, cache.feature_store(cache.representation_settings("mel", {}, mel, 1.0, 4)),
                           featurizer)
        assert seen == [1, 1, 1, 1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_remembered_hash_of_another_hash_function_is_not_trusted(tmp_path: Path) -> None:
    path = write_clips(tmp_path / "audio", [1.0])[0]
    digest, data = cache.clip_digest(str(path))
    assert digest == cache.content_hash(path.read_bytes()) and data is not None
    assert cache.clip_digest(str(path)) == (digest, None)  # remembered: the file is not read again
    memo = next((cache.features_root() / "paths").glob("*.json"))
    memo.write_text(memo.read_text().replace(cache.HASH, "blake2b").replace(digest, "0" * 32))
    assert cache.clip_digest(str(path)) == (digest, path.read_bytes())


def test_only_thread_safe_representations_on_the_cpu_are_featurized_while_decoding() -> None:
    from mirplug_builtin.representations.cqt import CQT

    class Stateful(LogMel):
        thread_safe = False

    assert inference.featurizer_while_decoding(CQT(), "cpu") is not None
    assert inference.featurizer_while_decoding(Stateful(), "cpu") is None
    assert inference.featurizer_while_decoding(LogMel(), "cuda") is None


def test_a_second_run_loads_all_features() -> None:
    from mirplug.catalog import load_catalog
    from mirplug.config import resolve
    from mirplug.runner import run

    catalog = load_catalog()
    overrides = ["task=genre", "data.clips_per_class=4", "data.seconds=1.0", "data.clip_seconds=1.0",
                 "train.epochs=1", "train.batch_size=8", f"out={os.environ['MIRPLUG_CACHE_DIR']}/runs"]
    first = run(resolve(catalog, overrides + ["backbone.channels=4", "backbone.blocks=2"]), catalog)
    assert cache.STATS["features_computed"] == 24 and cache.STATS["features_loaded"] == 0
    cache.STATS.clear()
    second = run(resolve(catalog, overrides + ["backbone=mlp"]), catalog)  # another backbone, same features
    # the features are cached, so the (larger) decoded windows are not even read
    assert dict(cache.STATS) == {"windows_not_needed": 24, "features_loaded": 24}
    assert first.metrics["n_test"] == second.metrics["n_test"]
    cache.STATS.clear()
    # a waveform augmenter needs the windows (its batches are computed on the fly); features still load
    run(resolve(catalog, overrides + ["backbone=mlp", "augmenter=gain"]), catalog)
    assert dict(cache.STATS) == {"windows_loaded": 24, "features_loaded": 24}
    cache.STATS.clear()
    # without the window store it decodes them instead
    run(resolve(catalog, overrides + ["backbone=mlp", "augmenter=gain", "data.cache_windows=false"]), catalog)
    assert dict(cache.STATS) == {"windows_decoded": 24, "features_loaded": 24}


def test_extract_runs_in_this_process_for_a_thread_safe_representation_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    from mirplug.extract import _WORKER_STATE, extract

    write_clips(tmp_path / "audio", [0.5] * 10)  # two shards of worker processes' size
    overrides = ["data=audiofolder", f"data.path={tmp_path / 'audio'}", "representation=mel"]
    result = extract(overrides, Console(quiet=True))
    assert result.clips == 10 and cache.STATS["features_computed"] == 10  # counted here: computed in this process
    cache.cache_clear()
    cache.STATS.clear()
    _WORKER_STATE.clear()
    monkeypatch.setattr(LogMel, "thread_safe", False)  # as a plugin wrapping a stateful library would be
    result = extract(overrides + ["representation.n_mels=40"], Console(quiet=True))
    # computed by worker processes (which import LogMel afresh): nothing counted in this process
    assert result.clips == 10 and result.counts["features_computed"] == 10 and cache.STATS["features_computed"] == 0


@pytest.mark.parametrize("workers", [[], ["--workers", "2"]], ids=["threads", "processes"])
def test_extract_cli_fills_the_cache_then_reuses_it(tmp_path: Path, workers: list[str]) -> None:
    write_clips(tmp_path / "audio", [1.0, 2.0, 1.5, 1.0, 3.0, 0.5])
    command = [MIRPLUG, "extract", "data=audiofolder", f"data.path={tmp_path / 'audio'}",
               "representation=mel", "representation.n_mels=32", *workers]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "extracted 6 clips (6 computed, 0 from the cache, 0 skipped)" in first.stdout
    assert "clips/s, realtime factor" in first.stdout
    second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert "extracted 6 clips (0 computed, 6 from the cache, 0 skipped)" in second.stdout
    info = subprocess.run([MIRPLUG, "cache", "info"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert "2 folders, 12 entries, " in info.stdout and "remembered for 6 files" in info.stdout
    assert "'n_mels': 32" in info.stdout
    cleared = subprocess.run([MIRPLUG, "cache", "clear"], capture_output=True, text=True,
                             env=env, timeout=120)
    assert cleared.stdout.startswith("removed 12 entries")
    assert not cache.features_root().exists()
