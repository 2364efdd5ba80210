"""Shared fixtures: an isolated cache, offline hub, and small audio writers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("OMP_NUM_THREADS", "2")

# Small settings that still run the whole pipeline.
TINY = ["data.clips_per_class=8", "data.seconds=1.0", "data.clip_seconds=1.0", "train.epochs=2",
        "train.batch_size=8"]
SMALL_CNN = ["backbone.channels=4", "backbone.blocks=2"]


@pytest.fixture(scope="session", autouse=True)
def _isolated_dirs(tmp_path_factory: pytest.TempPathFactory) -> None:
    """One cache and config folder for the session, never the user's."""
    os.environ["MIRPLUG_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    os.environ["MIRPLUG_CONFIG_DIR"] = str(tmp_path_factory.mktemp("config"))


@pytest.fixture
def catalog():
    """A fresh catalog (fresh plugin manager) per test."""
    from mirplug.catalog import load_catalog

    return load_catalog()


def tone(freq: float = 440.0, seconds: float = 1.0, sample_rate: int = 16000, channels: int = 1) -> np.ndarray:
    """A sine tone at -6 dBFS, ``(samples,)`` or ``(samples, channels)``."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    mono = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return mono if channels == 1 else np.stack([mono] * channels, axis=1)


def write_audio(path: Path, samples: np.ndarray, sample_rate: int = 16000) -> Path:
    """Write with soundfile; the format follows the extension (wav, flac, ogg, mp3)."""
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), samples, sample_rate)
    return path
