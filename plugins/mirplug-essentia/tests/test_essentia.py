"""The Essentia plugin: descriptors on signals with known properties, registration, and a baseline run."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("essentia")

from mirplug.errors import ConfigError  # noqa: E402
from mirplug_essentia.descriptors import CLIP_LEVEL, clip_names, frame_names  # noqa: E402
from mirplug_essentia.representations import EssentiaClip, EssentiaFrames  # noqa: E402

SAMPLE_RATE = 44100


def gated_tone(frequency: float, seconds: float = 4.0, bpm: float = 120.0) -> np.ndarray:
    """A tone switched on for the first 30% of each beat at ``bpm`` (sharp onsets, clear tempo)."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    gate = ((t * bpm / 60.0) % 1.0) < 0.3
    return (0.4 * np.sin(2 * np.pi * frequency * t) * gate).astype(np.float32)


def test_clip_vector_has_named_dimensions_and_known_values() -> None:
    representation = EssentiaClip()
    vectors = representation(torch.from_numpy(np.stack([gated_tone(440.0), gated_tone(261.63)])))
    names = representation.names
    assert vectors.shape == (2, len(names)) == (2, 2 * len(frame_names()) + len(CLIP_LEVEL))
    assert len(set(names)) == len(names)
    assert representation.frame_rate is None
    assert bool(torch.isfinite(vectors).all())
    by_name = [dict(zip(names, v.tolist())) for v in vectors]
    hpcp = [name for name in names if name.startswith("hpcp_") and name.endswith("_mean")]
    assert [max(hpcp, key=row.__getitem__) for row in by_name] == ["hpcp_A_mean", "hpcp_C_mean"]
    assert by_name[0]["bpm"] == pytest.approx(120.0, abs=2.0)
    # a steady 440 Hz tone: centroid and rolloff sit at the tone, the key is A, nothing varies much
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    steady = dict(zip(names, representation(torch.from_numpy(
        (0.4 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32))[None])[0].tolist()))
    assert steady["spectral_centroid_mean"] == pytest.approx(440.0, rel=0.05)
    assert steady["spectral_centroid_std"] < 5.0
    assert max(hpcp, key=steady.__getitem__) == "hpcp_A_mean"


def test_frames_have_the_declared_rate_and_rows() -> None:
    representation = EssentiaFrames(frame_samples=2048, hop_samples=1024)
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    steady = (0.4 * np.sin(2 * np.pi * 261.63 * t)).astype(np.float32)  # C4
    features = representation(torch.from_numpy(steady)[None])
    assert representation.frame_rate == pytest.approx(SAMPLE_RATE / 1024)
    assert features.shape == (1, len(frame_names()), 1 + (2 * SAMPLE_RATE - 2048) // 1024)
    first = frame_names().index("hpcp_A")
    assert frame_names()[first + int(features[0, first:first + 12, 40].argmax())] == "hpcp_C"


def test_bad_settings_fail_at_build() -> None:
    with pytest.raises(ConfigError, match="frame_samples=2047 must be even"):
        EssentiaClip(frame_samples=2047)
    with pytest.raises(ConfigError, match="hop_samples=4096 must lie between 1 and frame_samples=2048"):
        EssentiaFrames(hop_samples=4096)


def test_registered_through_the_entry_point() -> None:
    from mirplug.catalog import load_catalog

    catalog = load_catalog()
    spec = catalog.get("representation", "essentia")
    assert spec.license == "AGPL-3.0-or-later"
    assert catalog.get("representation", "essentia-frames").build({"sample_rate": 22050}).frame_rate == 22050 / 1024
    assert clip_names()[-len(CLIP_LEVEL):] == list(CLIP_LEVEL)


def test_essentia_linear_baseline_runs_and_separates_tones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import soundfile

    from mirplug.catalog import load_catalog
    from mirplug.config import resolve
    from mirplug.runner import run

    monkeypatch.setenv("MIRPLUG_CACHE_DIR", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    for label, base in (("low", 180.0), ("high", 1500.0)):
        for index in range(8):
            frequency = base * (1.0 + 0.05 * rng.random())
            path = tmp_path / "audio" / label / f"{label}{index}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(str(path), gated_tone(frequency, seconds=1.5, bpm=90 + 10 * index)[::2], SAMPLE_RATE // 2)
    catalog = load_catalog()
    config = resolve(catalog, ["task=genre", "data=audiofolder", f"data.path={tmp_path / 'audio'}",
                               "representation=essentia", "representation.sample_rate=22050", "backbone=linear",
                               "data.clip_seconds=1.5", "train.epochs=40", "train.lr=0.05", "train.patience=40",
                               f"out={tmp_path / 'runs'}"])
    result = run(config, catalog)
    assert result.metrics["accuracy"] == 1.0
    assert (result.folder / "metrics.json").exists()
    assert os.path.isdir(tmp_path / "cache" / "features")
