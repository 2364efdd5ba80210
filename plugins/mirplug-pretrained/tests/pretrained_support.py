"""Test setup of mirplug-pretrained: no network, private mirplug folders, a torch hub cache of random weights.

Each test module imports its fixtures from here (not a conftest.py: the core's tests import their
``conftest`` by name, and a second module of that name on the path would shadow theirs).

The real weights cannot be downloaded here (and tests never download), so the torch hub cache
(``TORCH_HOME``) points at a session folder holding random tensors in the published files' layouts
and under their published names (``published_layouts.py``); the backbones' real loading code reads them.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ["PIP_NO_INDEX"] = "1"

LOOPBACK = ("127.", "::1", "localhost")
# Small settings that still run the whole pipeline (as the core's tests/conftest.py TINY).
TINY = ["data.clips_per_class=8", "data.seconds=1.0", "data.clip_seconds=1.0", "train.epochs=2",
        "train.batch_size=8"]


class NetworkUsedInTest(RuntimeError):
    """A test tried to reach another machine."""


def _guard_sockets() -> None:
    original = socket.socket.connect

    def connect(self: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and not str(host).startswith(LOOPBACK):
            raise NetworkUsedInTest(f"a test tried to connect to {address}; tests must stay on this machine")
        return original(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]


_guard_sockets()


@pytest.fixture(scope="session")
def torch_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A torch home whose hub cache holds every published weight file, with random tensors."""
    from published_layouts import write_published_files

    # one folder per session even when several test modules import this fixture (files are kept)
    home = tmp_path_factory.getbasetemp() / "pretrained-torch-home"
    write_published_files(home / "hub" / "checkpoints")
    return home


@pytest.fixture(scope="session")
def cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mirplug cache for the session, so the synthetic dataset is generated once."""
    return tmp_path_factory.getbasetemp() / "pretrained-mirplug-cache"


@pytest.fixture(autouse=True)
def private_dirs(cache_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Private mirplug folders; an empty torch home unless a test asks for ``weights``."""
    monkeypatch.setenv("MIRPLUG_CACHE_DIR", str(cache_folder))
    monkeypatch.setenv("MIRPLUG_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    monkeypatch.delenv("MIRPLUG_LOAD_PLUGINS", raising=False)
    yield


@pytest.fixture
def weights(torch_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The torch hub cache with the (random) published weight files; returns its checkpoints folder."""
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    return torch_home / "hub" / "checkpoints"
