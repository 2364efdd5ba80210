"""Data-parallel training: two processes under torchrun (gloo on the CPU) train as well as one and write one folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mirplug.config import resolve
from mirplug.distributed import Ranks, launch_command, local_batch
from mirplug.errors import ConfigError

MIRPLUG = str(Path(sys.executable).parent / "mirplug")
# the collection of tests/test_learning.py (generated once per session): 40 clips of 2 s per style
GENRE = ["task=genre", "data.clips_per_class=40", "data.seconds=2.0", "data.clip_seconds=2.0", "backbone.channels=8",
         "train.epochs=12", "train.batch_size=32", "seed=0"]


def test_two_processes_train_the_genre_model_as_well_as_one_and_write_one_run_folder(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = subprocess.run([MIRPLUG, "run", *GENRE, f"out={tmp_path}", "name=one"], capture_output=True, text=True,
                         env=env, timeout=900)
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run([MIRPLUG, "run", *GENRE, f"out={tmp_path}", "name=two", "train.processes=2"],
                         capture_output=True, text=True, env=env, timeout=900)
    assert two.returncode == 0, two.stderr[-3000:]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["one", "two"]  # rank 1 made no folder of its own
    single = json.loads((tmp_path / "one" / "metrics.json").read_text())
    parallel = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert single["macro_f1"] > 0.8  # the chance level of 6 styles is ~0.17
    assert abs(parallel["macro_f1"] - single["macro_f1"]) <= 0.05
    assert yaml.safe_load((tmp_path / "two" / "config.yaml").read_text())["train"]["processes"] == 2
    assert (tmp_path / "two" / "run.json").is_file() and not (tmp_path / "two" / "checkpoint").exists()
    assert two.stdout.count("run folder:") == 1  # one results table: rank 0's


def test_the_global_batch_is_shared_evenly_and_torchrun_is_what_starts_the_processes() -> None:
    assert local_batch(32, Ranks(0, 2, 0)) == 16
    with pytest.raises(ConfigError, match="train.batch_size=30 is the global batch, shared by 4 processes"):
        local_batch(30, Ranks(1, 4, 1))
    command = launch_command(2, ["run", "task=genre"])
    assert command[1:] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "mirplug",
                           "run", "task=genre"]


@pytest.mark.parametrize(("overrides", "message"), [
    (["backbone=musicnn", "backbone.head=probe"], "train.processes=2 shares gradient steps between processes, but "
                                                  "backbone.head=probe is fitted once by scikit-learn in one process"),
    (["augmenter=vae", "augmenter.per_class=2"], "augmenter=vae fits a generator, which runs in one process"),
])
def test_what_fits_in_one_process_is_refused_at_resolve_with_several(catalog, overrides: list[str],
                                                                     message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        resolve(catalog, [*overrides, "train.processes=2"])
    assert resolve(catalog, [*overrides, "train.processes=1"]).train["processes"] == 1
