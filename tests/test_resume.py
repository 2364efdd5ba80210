"""A killed run continues with ``mirplug run --resume RUN_DIR`` and ends with the files of an uninterrupted run.

Each end-to-end case runs the same command twice in separate processes: once to the end, once
killed with SIGKILL after a few epochs (polled from the checkpoint) and then resumed; the
results must be the same bytes.
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
from conftest import TINY

from mirplug.errors import RunError

FILES = ("metrics.json", "predictions.csv", "model.safetensors")
# 8 clips per class, 1 s each: a few seconds of training, 8 epochs that early stopping does not cut short
KILLED = ["task=genre", "data.clips_per_class=8", "data.seconds=1.0", "data.clip_seconds=1.0", "backbone.channels=4",
          "train.epochs=8", "train.patience=100"]
KILL_AFTER_EPOCH = 3


def mirplug(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "mirplug.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def child_processes(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux: read from /proc)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def kill_after_epochs(args: list[str], folder: Path, epoch: int) -> int:
    """Start ``mirplug run``, SIGKILL it once its checkpoint holds ``epoch``; the epoch it was killed after."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-m", "mirplug.cli", "run", *args], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = folder / "checkpoint" / "training-1.json"
    saved, deadline = 0, time.monotonic() + 240
    while process.poll() is None and time.monotonic() < deadline:
        try:
            saved = json.loads(state.read_text())["epoch"]
        except (OSError, ValueError, KeyError):
            pass  # not written yet (the JSON is replaced atomically, never seen half-written)
        if saved >= epoch:
            children = child_processes(process.pid) if Path("/proc").is_dir() else []
            process.send_signal(signal.SIGKILL)
            process.wait()
            assert not [pid for pid in children if alive(pid)], "a child process outlived the killed run"
            return saved
        time.sleep(0.01)
    process.kill()
    pytest.fail(f"the run ended (exit code {process.returncode}) before its checkpoint reached epoch {epoch}")


def test_a_run_killed_after_a_few_epochs_resumes_to_the_same_files(tmp_path: Path) -> None:
    # dropout (global torch RNG), AdamW, the data order, and augmentation draws per window and epoch
    args = [*KILLED, "augmenter=gain,specaugment", "augmenter.p=0.5", f"out={tmp_path}"]
    whole = mirplug("run", *args, "name=whole")
    assert whole.returncode == 0, whole.stderr

    interrupted = tmp_path / "interrupted"
    killed_after = kill_after_epochs([*args, "name=interrupted"], interrupted, KILL_AFTER_EPOCH)
    assert KILL_AFTER_EPOCH <= killed_after < 8
    assert not (interrupted / "run.json").exists() and (interrupted / "RUNNING").exists()

    resumed = mirplug("run", "--resume", str(interrupted))
    assert resumed.returncode == 0, resumed.stderr
    assert f"training continues from its checkpoint after epoch {killed_after}" in resumed.stderr
    for name in (*FILES, "history.csv", "augmentations.csv"):
        assert (interrupted / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
    facts = json.loads((interrupted / "run.json").read_text())
    assert facts["status"] == "finished" and facts["resumed"] is True
    assert not (interrupted / "checkpoint").exists() and not (interrupted / "RUNNING").exists()

    again = mirplug("run", "--resume", str(interrupted))
    assert again.returncode == 0
    assert again.stderr.strip().splitlines() == [
        f"{interrupted} is finished already (run.json is there): nothing to resume; its results are in "
        f"{interrupted / 'metrics.json'}"]


def test_ctrl_c_in_the_second_fold_names_the_folder_and_resume_keeps_the_first_fold(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from mirplug.cli import app
    from mirplug.checkpoint import Checkpoint

    args = ["run", "task=genre", *TINY, "train.epochs=4", "backbone.channels=4", "backbone.blocks=2",
            "eval.folds=3", "data.styles=2", f"out={tmp_path}"]
    whole = CliRunner().invoke(app, [*args, "name=whole"])
    assert whole.exit_code == 0, whole.output

    save = Checkpoint.save

    def interrupt_in_fold_2(self: Checkpoint, epoch: int, *rest: object) -> None:
        save(self, epoch, *rest)  # type: ignore[arg-type]
        if self.name == "training-2" and epoch == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(Checkpoint, "save", interrupt_in_fold_2)
    folder = tmp_path / "interrupted"
    stopped = CliRunner().invoke(app, [*args, "name=interrupted"])
    assert stopped.exit_code == 130
    assert stopped.output.strip().splitlines()[-1] == f"interrupted; continue with mirplug run --resume {folder}"
    assert sorted(p.name for p in (folder / "checkpoint").iterdir()) == [
        "fold-1.json", "training-2-epoch-2.safetensors", "training-2.json"]
    saved_epochs = []

    def record(self: Checkpoint, epoch: int, *rest: object) -> None:
        saved_epochs.append((self.name, epoch))
        save(self, epoch, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(Checkpoint, "save", record)
    first_fold = (folder / "fold-1" / "model.safetensors").stat().st_mtime_ns

    resumed = CliRunner().invoke(app, ["run", "--resume", str(folder)])
    assert resumed.exit_code == 0, resumed.output
    # fold 1 is not trained again, fold 2 continues after its epoch 2
    assert saved_epochs == [("training-2", 3), ("training-2", 4), *(("training-3", k) for k in (1, 2, 3, 4))]
    assert "fold 1: finished before the interruption, results kept" in resumed.output
    assert "training continues from its checkpoint after epoch 2" in resumed.output
    assert (folder / "fold-1" / "model.safetensors").stat().st_mtime_ns == first_fold
    for name in ("metrics.json", *(f"fold-{k}/{file}" for k in (1, 2, 3) for file in FILES)):
        assert (folder / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    return line


def test_resume_refuses_a_folder_that_is_not_a_run_in_one_line(tmp_path: Path) -> None:
    assert "not a run folder (no config.yaml)" in one_error_line(mirplug("run", "--resume", str(tmp_path)))
    assert "no such folder" in one_error_line(mirplug("run", "--resume", str(tmp_path / "missing")))


def test_resume_refuses_a_config_that_no_longer_resolves_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("task: {name: genre}\nbackbone: {name: removed_plugin_backbone}\n")
    assert "its config.yaml no longer resolves: unknown backbone 'removed_plugin_backbone'" in one_error_line(
        mirplug("run", "--resume", str(tmp_path)))
    (tmp_path / "config.yaml").write_text("task: [genre\n")
    assert "its config.yaml cannot be read" in one_error_line(mirplug("run", "--resume", str(tmp_path)))


def test_resume_takes_no_overrides(tmp_path: Path) -> None:
    assert "give it no overrides" in one_error_line(mirplug("run", "--resume", str(tmp_path), "seed=1"))


def test_a_run_folder_in_use_is_refused_to_a_second_process(tmp_path: Path) -> None:
    from mirplug.rundir import run_lock

    with run_lock(tmp_path):
        assert (tmp_path / "RUNNING").read_text() == f"pid {os.getpid()}\n"
        with pytest.raises(RunError, match=f"is being written by a running mirplug \\(pid {os.getpid()}\\)"):
            with run_lock(tmp_path):
                pass
    assert not (tmp_path / "RUNNING").exists()


def tiny_training(steps: int = 1) -> tuple:
    """A small net with dropout after ``steps`` AdamW steps, early stopping and a data-order generator."""
    import torch

    from mirplug.training import EarlyStopping

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Dropout(0.5))
    optimizer = torch.optim.AdamW(net.parameters(), lr=0.1)
    for _ in range(steps):
        optimizer.zero_grad()
        net(torch.ones(4, 3)).sum().backward()
        optimizer.step()
    return net, optimizer, EarlyStopping(2, 0, net.state_dict()), torch.Generator().manual_seed(5)


def test_a_checkpoint_restores_weights_optimizer_stopping_and_random_states(tmp_path: Path) -> None:
    from types import SimpleNamespace

    import numpy as np
    import torch

    from mirplug.checkpoint import Checkpoint

    net, optimizer, stopping, generator = tiny_training(steps=3)
    stopping.update(1, (0.5, -1.0), net.state_dict())
    torch.randperm(10, generator=generator)
    checkpoint = Checkpoint(tmp_path, "training-1")
    checkpoint.save(1, False, net, optimizer, stopping, generator, 7, False, [{"epoch": 1}], [{"epoch": 1}])
    expected = (torch.rand(3), np.random.rand(), torch.randperm(10, generator=generator))
    weights = [p.detach().clone() for p in net.parameters()]
    moments = optimizer.state_dict()["state"][0]["exp_avg"].clone()

    net2, optimizer2, stopping2, generator2 = tiny_training(steps=1)  # other weights, moments, generator state
    assert not torch.equal(next(net2.parameters()), weights[0])
    torch.manual_seed(99)
    np.random.seed(99)
    batches = SimpleNamespace(records=[])
    history, steps, stopped_early, finished = checkpoint.load().restore(  # type: ignore[union-attr]
        net2, optimizer2, stopping2, generator2, batches)  # type: ignore[arg-type]
    assert (history, steps, stopped_early, finished, batches.records) == ([{"epoch": 1}], 7, False, False,
                                                                         [{"epoch": 1}])
    assert all(torch.equal(a, b) for a, b in zip(net2.parameters(), weights))
    assert torch.equal(optimizer2.state_dict()["state"][0]["exp_avg"], moments)
    assert optimizer2.state_dict()["state"][0]["step"].item() == 3
    assert (stopping2.best_key, stopping2.best_epoch, stopping2.waited) == ((0.5, -1.0), 1, 0)
    restored = (torch.rand(3), np.random.rand(), torch.randperm(10, generator=generator2))
    assert torch.equal(restored[0], expected[0]) and restored[1] == expected[1]
    assert torch.equal(restored[2], expected[2])


def test_a_save_that_dies_half_way_leaves_the_previous_checkpoint(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import mirplug.checkpoint
    from mirplug.checkpoint import Checkpoint

    net, optimizer, stopping, generator = tiny_training()
    checkpoint = Checkpoint(tmp_path, "training-1")
    checkpoint.save(1, False, net, optimizer, stopping, generator, 1, False, [{"epoch": 1}], [])

    def dies(path: Path, data: object) -> None:
        raise KeyboardInterrupt  # between the new tensors file and the JSON naming it

    monkeypatch.setattr(mirplug.checkpoint, "atomic_write_json", dies)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(2, False, net, optimizer, stopping, generator, 2, False, [{"epoch": 1}, {"epoch": 2}], [])
    saved = checkpoint.load()
    assert saved is not None and saved.values["epoch"] == 1 and saved.values["history"] == [{"epoch": 1}]
    assert not list(tmp_path.glob("*.tmp"))


def test_a_damaged_checkpoint_is_one_error_naming_what_to_delete(tmp_path: Path) -> None:
    from mirplug.checkpoint import Checkpoint

    net, optimizer, stopping, generator = tiny_training()
    checkpoint = Checkpoint(tmp_path, "training-1")
    checkpoint.save(1, False, net, optimizer, stopping, generator, 1, False, [], [])
    (tmp_path / "training-1-epoch-1.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(RunError, match="cannot be read .* delete the folder"):
        checkpoint.load()
