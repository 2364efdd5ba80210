"""Shared test setup: private cache and config folders, no network, one thread."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

# the fixtures plugin authors use (mirplug_catalog, mirplug_check), tested here as they would use them
pytest_plugins = ["mirplug.testing"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
# Tests never touch the network: subprocesses (pip in tests/test_install.py, mirplug in others)
# get no package index, and this process may open sockets to this machine only (the Hub tests
# run a real HTTP server on 127.0.0.1).
os.environ["PIP_NO_INDEX"] = "1"
LOOPBACK = ("127.", "::1", "localhost")


class NetworkUsedInTest(RuntimeError):
    """A test tried to reach another machine."""


def _guard_sockets() -> None:
    import socket

    original = socket.socket.connect

    def connect(self: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and not str(host).startswith(LOOPBACK):
            raise NetworkUsedInTest(f"a test tried to connect to {address}; tests must stay on this machine")
        return original(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]


_guard_sockets()


@pytest.fixture(scope="session")
def cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder for the session, so the synthetic dataset is generated once."""
    return tmp_path_factory.mktemp("mirplug-cache")


@pytest.fixture(autouse=True)
def private_dirs(cache_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own config folder (the plugin manifest) and the shared cache."""
    monkeypatch.setenv("MIRPLUG_CACHE_DIR", str(cache_folder))
    monkeypatch.setenv("MIRPLUG_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("MIRPLUG_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("MIRPLUG_TRACE_PLUGINS", raising=False)
    yield


# Small settings that still run the whole pipeline.
TINY = ["data.clips_per_class=8", "data.seconds=1.0", "data.clip_seconds=1.0", "train.epochs=2",
        "train.batch_size=8"]
SMALL_CNN = ["backbone.channels=4", "backbone.blocks=2"]


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
