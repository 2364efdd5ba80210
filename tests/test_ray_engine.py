"""``engine=ray``: extraction as a Ray Data pipeline and grids as Ray tasks give what the in-process paths give.

Ray's start-up is slow (seconds of process launches), so the whole module shares one local Ray
(2 CPUs, 127.0.0.1 only, no dashboard), started the way ``mirplug`` starts one; the engine sees it
running and uses it instead of starting its own.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
import torch
from rich.console import Console

from mirplug.engines import EngineSettings

ray = pytest.importorskip("ray")

from conftest import SMALL_CNN, TINY, tone, write_audio  # noqa: E402

RAY2 = EngineSettings(name="ray", workers=2)


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module (started as mirplug starts one, shut down at the end)."""
    from mirplug.engines.ray_engine import ray_session

    with ray_session(EngineSettings(name="ray"), 2) as session:
        yield session


def write_clips(folder: Path, seconds: list[float]) -> None:
    """One tone per clip (distinct pitch, so distinct content) in a two-label audiofolder layout."""
    for index, length in enumerate(seconds):
        write_audio(folder / ("low" if index % 2 else "high") / f"clip{index}.wav", tone(220.0 + 37.0 * index, length))


def cache_entries(root: Path) -> dict[str, torch.Tensor]:
    """Every cache entry under ``root/features`` as ``folder/file -> tensor``."""
    from safetensors.torch import load_file

    return {str(path.relative_to(root)): load_file(str(path))["data"]
            for path in sorted((root / "features").glob("*/*.safetensors"))}


def assert_same_entries(left: dict[str, torch.Tensor], right: dict[str, torch.Tensor]) -> None:
    assert sorted(left) == sorted(right)
    for name in left:
        assert left[name].dtype == right[name].dtype and torch.equal(left[name], right[name]), name


def test_ray_extraction_writes_the_entries_of_the_in_process_one_bit_for_bit(
        local_ray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mirplug.extract import _WORKER_STATE, extract

    write_clips(tmp_path / "audio", [1.0, 2.0, 1.5, 1.0, 3.0, 0.5, 2.5, 1.0, 1.0, 2.0])
    # musicnn is frozen and pretrained: its embeddings are cached by extract too
    overrides = ["data=audiofolder", f"data.path={tmp_path / 'audio'}", "backbone=musicnn"]
    monkeypatch.setenv("MIRPLUG_CACHE_DIR", str(tmp_path / "in-process"))
    here = extract(overrides, Console(quiet=True))
    _WORKER_STATE.clear()
    monkeypatch.setenv("MIRPLUG_CACHE_DIR", str(tmp_path / "ray"))
    on_ray = extract(overrides, Console(quiet=True), engine=RAY2)
    assert here.clips == on_ray.clips == 10
    assert {node["NodeManagerAddress"] for node in local_ray.nodes()} == {"127.0.0.1"}  # a local Ray stays local
    assert on_ray.counts["features_computed"] == on_ray.counts["embeddings_computed"] == 10
    entries = cache_entries(tmp_path / "ray")
    assert sum(name.startswith("features/embeddings-musicnn-") for name in entries) == 10
    assert_same_entries(cache_entries(tmp_path / "in-process"), entries)
    again = extract(overrides, Console(quiet=True), engine=RAY2)  # everything cached: nothing is sent to Ray
    assert again.counts["features_loaded"] == again.counts["embeddings_loaded"] == 10
    assert not again.counts["features_computed"] and not again.counts["embeddings_computed"]


KILLED_ONCE_PLUGIN = '''
import os
import signal

from mirplug.hookspecs import hookimpl
from mirplug.specs import Option, RepresentationSpec
from mirplug_builtin.representations.mel import LogMel


class KilledOnce(LogMel):
    """Log-mel whose process is killed (SIGKILL) at its third clip, once: when $MIRPLUG_TEST_KILL names no file yet."""

    calls = 0

    def forward(self, waves):
        marker = os.environ.get("MIRPLUG_TEST_KILL")
        if marker and float(waves.abs().sum()) > 0:
            type(self).calls += 1
            if type(self).calls == 3:
                try:
                    handle = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    pass
                else:
                    os.close(handle)
                    os.kill(os.getpid(), signal.SIGKILL)
        return super().forward(waves)


@hookimpl
def mirplug_register_representations():
    return [RepresentationSpec(name="killedonce", summary="log-mel; its worker dies once, at its third clip",
                               factory=__name__ + ":KilledOnce", license="MIT",
                               options=(Option(name="n_mels", type=int, default=32, minimum=1, maximum=512),))]
'''


def test_a_worker_killed_mid_shard_is_retried_and_the_cache_ends_complete(
        local_ray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mirplug.extract import _WORKER_STATE, extract
    from mirplug.publish import is_temporary

    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "killed_once_plugin.py").write_text(textwrap.dedent(KILLED_ONCE_PLUGIN))
    info = plugin / "killed_once_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: killed-once-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[mirplug]\nkilledonce = killed_once_plugin\n")
    monkeypatch.syspath_prepend(str(plugin))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(plugin), os.environ.get("PYTHONPATH")])))
    write_clips(tmp_path / "audio", [1.0] * 24)  # 3 shards of 8 clips
    overrides = ["data=audiofolder", f"data.path={tmp_path / 'audio'}", "representation=killedonce"]
    monkeypatch.setenv("MIRPLUG_CACHE_DIR", str(tmp_path / "in-process"))
    extract(overrides, Console(quiet=True))  # no marker set: nothing is killed here
    _WORKER_STATE.clear()
    marker = tmp_path / "killed"
    monkeypatch.setenv("MIRPLUG_TEST_KILL", str(marker))  # reaches the Ray workers (MIRPLUG_* is forwarded)
    monkeypatch.setenv("MIRPLUG_CACHE_DIR", str(tmp_path / "ray"))
    result = extract(overrides, Console(quiet=True), engine=RAY2)
    assert marker.exists()  # a worker was killed with two entries of its shard written
    assert result.clips == 24 and not result.skipped
    assert not [path for path in (tmp_path / "ray").rglob("*") if is_temporary(path)]  # nothing half-written
    assert_same_entries(cache_entries(tmp_path / "in-process"), cache_entries(tmp_path / "ray"))


def test_a_two_run_ray_sweep_gives_the_metrics_of_the_in_process_sweep(
        local_ray, catalog, tmp_path: Path) -> None:
    from mirplug.sweep import run_sweep

    overrides = TINY + SMALL_CNN + ["seed=0,1", "train.threads=1"]
    here, _ = run_sweep(catalog, overrides, out=str(tmp_path / "here"), console=Console(quiet=True))
    there, table = run_sweep(catalog, overrides, out=str(tmp_path / "ray"), console=Console(quiet=True),
                             engine=RAY2)
    runs = sorted(path.parent.name for path in (here / "runs").glob("*/metrics.json"))
    assert runs == ["run-seed-0", "run-seed-1"]
    for name in runs:
        assert (json.loads((here / "runs" / name / "metrics.json").read_text())
                == json.loads((there / "runs" / name / "metrics.json").read_text()))
    assert (here / "learning_curve.csv").read_text() == (there / "learning_curve.csv").read_text()
    assert table[0]["n"] == 2
