"""Any number of processes may share one cache (issue 16): work is done once, results are published whole,
a killed process leaves neither a stale lock nor a running worker, and damaged synthetic clips are repaired.

Every test here starts real processes on a cache folder of its own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mirplug.publish import build_once, lock, publish_file, publish_folder, temporary_file, temporary_folder
from mirplug_builtin.datasets import synthetic
from mirplug_builtin.datasets.synthetic import dataset_folder, inspect

MIRPLUG = str(Path(sys.executable).parent / "mirplug")
PYTHON = sys.executable
# The smallest run of the whole pipeline: 2 styles x 6 clips of 1 s, one epoch, a tiny CNN.
RUN = ["task=genre", "data.clips_per_class=6", "data.seconds=1.0", "data.styles=2", "data.clip_seconds=1.0",
       "train.epochs=1", "train.batch_size=8", "backbone.channels=4", "backbone.blocks=2"]
DATASET = (6, 1.0, 16000, 2, 0)  # clips per class, seconds, sample rate, styles, seed (as RUN's)


def environment(cache: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "MIRPLUG_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1", **extra}


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(condition, seconds: float = 120.0) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def assert_consistent(cache: Path) -> Path:
    """One published synthetic dataset whose every file matches its manifest, and no temporary anywhere."""
    datasets = cache / "datasets"
    folders = [p for p in datasets.iterdir() if p.is_dir()]
    assert [p.name for p in folders] == [p.name for p in folders if p.name.startswith("synthetic-")] and len(folders) == 1
    assert inspect(folders[0], (folders[0] / "COMPLETE").read_text())[:2] == ([], [])
    assert not [p for p in cache.rglob("*") if ".tmp-" in p.name]
    with lock(folders[0], timeout=0):  # free: nobody holds it once the processes ended
        pass
    return folders[0]


# A process that builds the dataset and logs its pid when it (not another) generates the clips; with
# GENERATION_SECONDS it stays that long in the generation, lock held, so the others arrive meanwhile.
BUILDER = """
import os, sys, time
from pathlib import Path
import mirplug_builtin.datasets.synthetic as synthetic
render = synthetic._render_all
def logged(jobs, folder, what):
    with open(os.environ["GENERATION_LOG"], "a") as log:
        log.write(f"{os.getpid()} {what}\\n")
    Path(os.environ["GENERATION_LOG"] + ".started").touch()
    time.sleep(float(os.environ.get("GENERATION_SECONDS", "0")))
    return render(jobs, folder, what)
synthetic._render_all = logged
print(synthetic.dataset_folder(*[float(x) if "." in x else int(x) for x in sys.argv[1:]]))
"""


def builder(cache: Path, log: Path, seconds: float = 0.0) -> subprocess.Popen:
    return subprocess.Popen([PYTHON, "-c", BUILDER, *map(str, DATASET)], stdout=subprocess.PIPE, text=True,
                            env=environment(cache, GENERATION_LOG=str(log), GENERATION_SECONDS=str(seconds)))


def test_four_runs_on_an_empty_cache_finish_with_identical_metrics_and_a_consistent_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    runs = [subprocess.Popen([MIRPLUG, "run", *RUN, f"out={tmp_path / f'out{i}'}"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=environment(cache)) for i in range(4)]
    finished = [run.communicate(timeout=600) for run in runs]
    for run, (_, err) in zip(runs, finished):
        assert run.returncode == 0 and "Traceback" not in err, err[-3000:]
    metrics = [next((tmp_path / f"out{i}").glob("*/metrics.json")).read_text() for i in range(4)]
    assert len(set(metrics)) == 1 and json.loads(metrics[0])["n_train"] > 0
    assert_consistent(cache)


def test_processes_asking_for_the_same_dataset_at_once_generate_it_once(tmp_path: Path) -> None:
    cache, log = tmp_path / "cache", tmp_path / "generations.log"
    first = builder(cache, log, seconds=2.0)  # holds the lock for 2 s while the others ask
    assert wait_for(lambda: Path(f"{log}.started").exists())
    others = [builder(cache, log) for _ in range(3)]
    outputs = {process.communicate(timeout=300)[0].strip() for process in [first, *others]}
    assert all(process.returncode == 0 for process in [first, *others])
    assert len(log.read_text().splitlines()) == 1  # one generation; the three others reused it
    assert outputs == {str(assert_consistent(cache))}


def test_a_killed_lock_holder_leaves_no_stale_lock_and_its_temporary_is_removed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache, log = tmp_path / "cache", tmp_path / "generations.log"
    monkeypatch.setenv("MIRPLUG_CACHE_DIR", str(cache))
    holder = builder(cache, log, seconds=300.0)  # generating, lock held, when killed
    assert wait_for(lambda: Path(f"{log}.started").exists())
    assert list((cache / "datasets").glob(".synthetic-*.tmp-*"))  # its private temporary folder
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    started = time.time()
    folder = dataset_folder(*DATASET)  # this process gets the lock at once and generates
    assert time.time() - started < 60
    assert [line.split()[1] for line in log.read_text().splitlines()] == ["generating"]  # only the killed one logged
    assert assert_consistent(cache) == folder


WORKERS = """
import time
from mirplug.workers import worker_pool
pool = worker_pool(2)
futures = [pool.submit(time.sleep, 120) for _ in range(2)]
while len(pool._processes) < 2 or not all(f.running() for f in futures):
    time.sleep(0.05)
print(" ".join(str(pid) for pid in pool._processes), flush=True)
time.sleep(300)
"""


def test_worker_processes_die_with_their_parent_after_kill_9(tmp_path: Path) -> None:
    parent = subprocess.Popen([PYTHON, "-c", WORKERS], stdout=subprocess.PIPE, text=True, env=environment(tmp_path))
    pids = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(pids) == 2 and all(alive(pid) for pid in pids)  # busy for two more minutes
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=30)
    assert wait_for(lambda: not any(alive(pid) for pid in pids), 20), [pid for pid in pids if alive(pid)]


def test_a_damaged_synthetic_clip_is_generated_again_and_a_damaged_manifest_repairs_everything(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MIRPLUG_CACHE_DIR", str(tmp_path / "cache"))
    folder = dataset_folder(*DATASET)
    clip = folder / "rock" / "rock.00002.wav"
    original = clip.read_bytes()
    rendered: list[int] = []
    render = synthetic._render_all
    monkeypatch.setattr(synthetic, "_render_all", lambda jobs, *rest: rendered.append(len(jobs)) or render(jobs, *rest))
    clip.write_bytes(original[:len(original) // 3])  # truncated, as by a full disk
    assert dataset_folder(*DATASET) == folder and clip.read_bytes() == original and rendered == [1]
    err = capfd.readouterr().err
    assert "repaired the synthetic dataset" in err and "generated again rock/rock.00002.wav" in err
    clip.write_bytes(b"\0" * len(original))  # same size, other bytes
    dataset_folder(*DATASET)
    assert clip.read_bytes() == original and rendered == [1, 1]
    os.utime(clip, (1, 1))  # only the time changed (a copy without times): hashed, equal, stamped again
    dataset_folder(*DATASET)
    assert rendered == [1, 1] and inspect(folder, (folder / "COMPLETE").read_text())[:2] == ([], [])
    (folder / "manifest.json").write_text('{"version": 1, "fil')  # truncated manifest: every clip is suspect
    clip.unlink()
    dataset_folder(*DATASET)
    assert rendered == [1, 1, 12] and clip.read_bytes() == original
    assert inspect(folder, (folder / "COMPLETE").read_text())[:2] == ([], [])


def test_the_first_publisher_wins_and_the_loser_reuses_its_result(tmp_path: Path) -> None:
    result = tmp_path / "result"
    winner, loser = temporary_folder(result), temporary_folder(result)
    (winner / "who").write_text("winner")
    (loser / "who").write_text("loser")
    assert publish_folder(winner, result) and not publish_folder(loser, result)
    assert (result / "who").read_text() == "winner" and not loser.exists() and not winner.exists()
    entry = tmp_path / "entry.safetensors"
    first, second = temporary_file(entry), temporary_file(entry)
    first.write_text("first")
    second.write_text("second")
    assert publish_file(first, entry) and not publish_file(second, entry)
    assert entry.read_text() == "first" and not first.exists() and not second.exists()


def test_build_once_publishes_a_complete_folder_and_reuses_it(tmp_path: Path) -> None:
    calls: list[Path] = []

    def build(folder: Path) -> None:
        calls.append(folder)
        (folder / "data.txt").write_text("built")

    result = tmp_path / "datasets" / "tones"
    assert build_once(result, build) == result == build_once(result, build)
    assert len(calls) == 1 and calls[0] != result and not calls[0].exists()  # built aside, then renamed
    assert (result / "data.txt").read_text() == "built" and (result / "COMPLETE").exists()
    failing = tmp_path / "datasets" / "broken"
    with pytest.raises(ZeroDivisionError):
        build_once(failing, lambda folder: 1 / 0)
    assert not failing.exists() and not [p for p in failing.parent.iterdir() if ".tmp-" in p.name]
