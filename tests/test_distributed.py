"""Data-parallel training: two processes under torchrun (gloo on the CPU) train as well as one and write one folder."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from mirplug.config import resolve
from mirplug.distributed import Ranks, launch_command, local_batch
from mirplug.errors import ConfigError
from mirplug.runner import run

MIRPLUG = str(Path(sys.executable).parent / "mirplug")
# the collection of tests/test_learning.py (generated once per session): 40 clips of 2 s per style; 12 epochs are
# 60 optimizer steps of the global batch, enough for both to reach ~0.96-0.98 (fewer epochs or clips: the two runs
# land far apart, from 0.6 to 0.85, and the comparison would say nothing)
GENRE = ["task=genre", "data.clips_per_class=40", "data.seconds=2.0", "data.clip_seconds=2.0", "backbone.channels=8",
         "train.epochs=12", "train.batch_size=32", "seed=0"]


HOOKS_PLUGIN = """
import os
from mirplug import hookimpl

def _heard(hook):
    with open(os.environ["HOOKS_HEARD"], "a") as out:
        out.write(f"{hook} rank={os.environ.get('RANK')}\\n")

@hookimpl
def mirplug_run_start(run_folder):
    _heard("run_start")

@hookimpl
def mirplug_epoch_end(epoch):
    _heard("epoch_end")

@hookimpl
def mirplug_evaluation_end(fold):
    _heard("evaluation_end")

@hookimpl
def mirplug_run_end(status):
    _heard(f"run_end {status}")
"""


def hooks_plugin(site: Path) -> Path:
    """An installed plugin (a module and its ``*.dist-info``) that writes a line per lifecycle hook call it hears."""
    site.mkdir()
    (site / "hooks_heard.py").write_text(HOOKS_PLUGIN)
    info = site / "hooks_heard-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hooks-heard\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[mirplug]\nhooks_heard = hooks_heard\n")
    return site


def test_two_processes_train_the_genre_model_as_well_as_one_and_write_one_run_folder(catalog, tmp_path: Path) -> None:
    # one process: the reference, in this one (it also fills the cache the two processes then read)
    single = run(resolve(catalog, [*GENRE, f"out={tmp_path}", "name=one"]), catalog, Console(file=io.StringIO()))
    heard = tmp_path.parent / f"{tmp_path.name}-heard.txt"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HOOKS_HEARD": str(heard),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(hooks_plugin(tmp_path.parent / f"{tmp_path.name}-site")),
                                                       os.environ.get("PYTHONPATH")]))}
    two = subprocess.run([MIRPLUG, "run", *GENRE, f"out={tmp_path}", "name=two", "train.processes=2"],
                         capture_output=True, text=True, env=env, timeout=900)
    assert two.returncode == 0, two.stderr[-3000:]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["one", "two"]  # rank 1 made no folder of its own
    parallel = json.loads((tmp_path / "two" / "metrics.json").read_text())
    # the lifecycle hooks are called once, by rank 0 (the launching process loads the plugin but runs nothing)
    assert heard.read_text().splitlines() == (["run_start rank=0"] + ["epoch_end rank=0"] * parallel["epochs_run"]
                                              + ["evaluation_end rank=0", "run_end finished rank=0"])
    assert single.metrics["macro_f1"] > 0.8  # the chance level of 6 styles is ~0.17
    assert abs(parallel["macro_f1"] - single.metrics["macro_f1"]) <= 0.05
    assert parallel["optimizer_steps"] == single.metrics["optimizer_steps"]  # the same global batch: as many steps
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
