"""Shared test setup: private cache and config folders, no network, one thread."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# the fixtures plugin authors use (mirplug_catalog, mirplug_check), tested here as they would use them
pytest_plugins = ["mirplug.testing"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


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
