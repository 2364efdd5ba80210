"""The audiofolder dataset on real WAV/FLAC/OGG/MP3 files written to disk."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tone, write_audio

from mirplug.audio import BadClip, decode
from mirplug.data import split_dataset
from mirplug.windows import decode_windows
from mirplug.errors import DataError
from mirplug_builtin.datasets.audiofolder import load


@pytest.mark.parametrize("extension", ["wav", "flac", "ogg", "mp3"])
def test_each_format_decodes_to_mono_at_the_requested_rate(tmp_path, extension):
    path = write_audio(tmp_path / f"a.{extension}", tone(440.0, 1.0, 22050, channels=2), 22050)
    decoded = decode(str(path), 16000)
    assert decoded.sample_rate == 16000
    assert decoded.samples.ndim == 1
    assert abs(len(decoded.samples) - 16000) < 1200  # mp3 adds encoder padding
    spectrum = np.abs(np.fft.rfft(decoded.samples[:16000] if len(decoded.samples) >= 16000 else decoded.samples))
    peak_hz = spectrum.argmax() * 16000 / (2 * (len(spectrum) - 1))
    assert abs(peak_hz - 440.0) < 3.0


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT"])
@pytest.mark.parametrize("channels", [1, 2])
def test_integer_reads_give_exactly_libsndfiles_float_samples(tmp_path, subtype, channels):
    """decode() reads PCM as integers and scales them itself (faster); the samples must not change."""
    import soundfile

    rng = np.random.default_rng(channels)
    noise = (0.4 * rng.standard_normal((8000, channels))).clip(-1, 1).astype(np.float32)
    path = tmp_path / f"x-{subtype}.wav"
    soundfile.write(str(path), noise, 16000, subtype=subtype)
    reference = soundfile.read(str(path), dtype="float32", always_2d=True)[0].mean(axis=1)
    assert np.allclose(decode(str(path), 16000).samples, reference, atol=1e-7, rtol=0)


def test_gtzan_layout_gives_one_label_per_folder(tmp_path):
    for label, freq in (("blues", 220.0), ("rock", 880.0)):
        for i, extension in enumerate(["wav", "flac", "ogg", "mp3"]):
            write_audio(tmp_path / label / f"{label}.{i:05d}.{extension}", tone(freq, 0.5))
    dataset = load(str(tmp_path))
    assert len(dataset) == 8
    assert dataset.features["label"].names == ["blues", "rock"]
    assert sorted(dataset["id"])[0] == "blues/blues.00000.wav"
    assert dataset["label"].count(1) == 4


def test_split_folders_are_used_as_given(tmp_path):
    for split, count in (("train", 3), ("validation", 1), ("test", 2)):
        for label in ("jazz", "pop"):
            for i in range(count):
                write_audio(tmp_path / split / label / f"{i}.wav", tone(300.0 + 100 * i, 0.3))
    dataset = load(str(tmp_path))
    assert sorted(dataset) == ["test", "train", "validation"]
    splits = split_dataset(dataset, "label", 0.15, 0.2, seed=0)
    assert [len(splits[s]) for s in ("train", "validation", "test")] == [6, 2, 4]


def test_missing_validation_folder_is_carved_from_train(tmp_path):
    for split, count in (("train", 6), ("test", 2)):
        for label in ("a", "b"):
            for i in range(count):
                write_audio(tmp_path / split / label / f"{i}.wav", tone(200.0 + 50 * i, 0.3))
    splits = split_dataset(load(str(tmp_path)), "label", 0.25, 0.2, seed=0)
    assert [len(splits[s]) for s in ("train", "validation", "test")] == [9, 3, 4]


def test_bad_clips_are_reported_and_skipped(tmp_path):
    write_audio(tmp_path / "a" / "good.wav", tone(440.0, 0.5))
    (tmp_path / "a" / "corrupt.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    write_audio(tmp_path / "a" / "silent.wav", np.zeros(8000, dtype=np.float32))
    write_audio(tmp_path / "a" / "empty.wav", np.zeros(0, dtype=np.float32))
    nan = tone(440.0, 0.5)
    nan[100] = np.nan
    import soundfile

    soundfile.write(str(tmp_path / "a" / "nan.wav"), nan, 16000, subtype="FLOAT")
    write_audio(tmp_path / "b" / "good.wav", tone(880.0, 0.5))
    dataset = load(str(tmp_path))
    windows = decode_windows(dataset, 16000, 0.25, 4, "train")
    reasons = {row["id"]: row["reason"] for row in windows.skipped}
    assert reasons == {
        "a/corrupt.wav": reasons["a/corrupt.wav"],
        "a/empty.wav": "empty: no samples",
        "a/nan.wav": "holds NaN or infinite samples",
        "a/silent.wav": "silent: peak below -100 dBFS",
    }
    assert reasons["a/corrupt.wav"].startswith("cannot decode")
    assert [dataset["id"][i] for i in windows.rows] == ["a/good.wav", "b/good.wav"]
    assert tuple(windows.waves.shape) == (4, 4000)  # two 0.5 s clips, two 0.25 s windows each


def test_short_clips_are_padded_and_long_ones_cut_into_windows(tmp_path):
    write_audio(tmp_path / "a" / "short.wav", tone(440.0, 0.1))
    write_audio(tmp_path / "b" / "long.wav", tone(440.0, 2.0))
    windows = decode_windows(load(str(tmp_path)), 16000, 0.5, 3, "test")
    assert windows.clip.tolist() == [0, 1, 1, 1]
    assert float(windows.waves[0, 1600:].abs().max()) == 0.0


def test_a_folder_without_audio_fails_early(tmp_path):
    (tmp_path / "notes.txt").write_text("no audio here")
    with pytest.raises(DataError, match="holds no audio in label sub-folders"):
        load(str(tmp_path))


def test_a_single_label_fails_early(tmp_path):
    write_audio(tmp_path / "only" / "a.wav", tone())
    with pytest.raises(DataError, match="has a single label 'only'"):
        load(str(tmp_path))


def test_a_label_with_too_few_clips_to_split_fails_early(tmp_path):
    for i in range(5):
        write_audio(tmp_path / "many" / f"{i}.wav", tone(300.0 + i))
    write_audio(tmp_path / "few" / "0.wav", tone())
    with pytest.raises(DataError, match=r"label 'few' has 1 clip\(s\); at least 3 per label .* \(found: few=1, many=5\)"):
        split_dataset(load(str(tmp_path)), "label", 0.15, 0.2, seed=0)


def test_missing_path_says_what_to_add():
    with pytest.raises(DataError, match="add data.path=DIR"):
        load(None)


def test_decode_raises_badclip_for_a_missing_file(tmp_path):
    with pytest.raises(BadClip, match="cannot decode"):
        decode(str(tmp_path / "missing.wav"), 16000)
