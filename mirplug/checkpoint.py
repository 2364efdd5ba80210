"""Checkpoints to resume from: the state of a training after every epoch, saved so a killed run continues exactly.

After every epoch the loop (:func:`mirplug.training.fit`) saves what it needs to continue: the
trained weights, the optimizer, early stopping, the data-order generator, the global random
states (dropout draws from torch's), the history and the augmentation records. A run killed
at any moment continues from its last finished epoch with ``mirplug run --resume RUN_DIR`` and
ends with the same files as a run that was never interrupted.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mirplug.errors import RunError
from mirplug.rundir import atomic_write, atomic_write_json

if TYPE_CHECKING:
    from mirplug.training import Batches, EarlyStopping

CHECKPOINT_FOLDER = "checkpoint"  # inside the run folder; removed when the run finishes
CHECKPOINT_FORMAT = 1


def random_states() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """torch's (CPU and CUDA), numpy's and Python's global random states, as tensors and JSON values."""
    tensors = {"rng.torch": torch.random.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for index, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{index}"] = state
    kind, keys, position, has_gauss, cached = np.random.get_state()  # type: ignore[misc]
    version, internal, gauss = random.getstate()
    return tensors, {"numpy": [kind, keys.tolist(), position, has_gauss, cached],
                     "python": [version, list(internal), gauss]}


def set_random_states(tensors: dict[str, torch.Tensor], values: dict[str, Any]) -> None:
    """Restore what :func:`random_states` returned."""
    torch.random.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[f"rng.cuda.{index}"] for index in range(sum(key.startswith("rng.cuda.") for key in tensors))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    kind, keys, position, has_gauss, cached = values["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached))
    version, internal, gauss = values["python"]
    random.setstate((version, tuple(internal), gauss))


def _optimizer_parts(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The optimizer's state as tensors (``<param>.<name>``) and JSON values (its groups, the other entries)."""
    state = optimizer.state_dict()
    tensors, values = {}, {}
    for param, entries in state["state"].items():
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{param}.{name}"] = value
            else:
                values[f"{param}.{name}"] = value
    return tensors, {"param_groups": state["param_groups"], "values": values}


def _optimizer_state(tensors: dict[str, torch.Tensor], values: dict[str, Any]) -> dict[str, Any]:
    """The ``optimizer.state_dict()`` that :func:`_optimizer_parts` took apart."""
    state: dict[int, dict[str, Any]] = {}
    for key, value in [*tensors.items(), *values["values"].items()]:
        param, name = key.split(".", 1)
        state.setdefault(int(param), {})[name] = value
    return {"state": dict(sorted(state.items())), "param_groups": values["param_groups"]}


def _prefixed(prefix: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # cloned and contiguous: safetensors refuses tensors that share memory (tied weights)
    return {f"{prefix}.{key}": value.detach().cpu().contiguous().clone() for key, value in state.items()}


def _unprefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {key[len(prefix) + 1:]: value for key, value in tensors.items() if key.startswith(prefix + ".")}


@dataclass
class SavedTraining:
    """A checkpoint read back: tensors (safetensors) and values (JSON)."""

    tensors: dict[str, torch.Tensor]
    values: dict[str, Any]

    def restore(self, net: torch.nn.Module, optimizer: torch.optim.Optimizer | None, stopping: EarlyStopping,
                generator: torch.Generator, batches: Batches) -> tuple[list[dict[str, Any]], int, bool, bool]:
        """Put the saved state back; returns history, steps, whether it stopped early and whether training ended."""
        values = self.values
        net.load_state_dict(_unprefixed("net", self.tensors))
        if optimizer is not None and values["optimizer"] is not None:
            optimizer.load_state_dict(_optimizer_state(_unprefixed("optimizer", self.tensors), values["optimizer"]))
        stopping.load_state_dict({**values["stopping"], "best_state": _unprefixed("best", self.tensors)})
        generator.set_state(self.tensors["data_order"])
        set_random_states(self.tensors, values["random"])
        batches.records[:] = values["augmentations"]
        return list(values["history"]), int(values["steps"]), bool(values["stopped_early"]), bool(values["finished"])


class Checkpoint:
    """One training's checkpoint in a run folder: ``checkpoint/<name>.json`` and the tensors file it names.

    The tensors go to ``<name>-epoch-<N>.safetensors`` first, then the JSON naming that file
    replaces the old JSON (both written to a temporary file and renamed), then the older tensors
    file is removed: whenever the process dies, the JSON names a complete tensors file.
    """

    def __init__(self, folder: Path, name: str) -> None:
        self.folder, self.name = folder, name
        self.path = folder / f"{name}.json"

    def save(self, epoch: int, finished: bool, net: torch.nn.Module, optimizer: torch.optim.Optimizer | None,
             stopping: EarlyStopping, generator: torch.Generator, steps: int, stopped_early: bool,
             history: list[dict[str, Any]], records: list[dict[str, Any]]) -> None:
        """Save the state at the end of ``epoch`` (``finished``: no epoch follows)."""
        from safetensors.torch import save_file

        self.folder.mkdir(parents=True, exist_ok=True)
        stopping_state = stopping.state_dict()
        rng_tensors, rng_values = random_states()
        tensors = {**_prefixed("net", net.state_dict()), **_prefixed("best", stopping_state.pop("best_state")),
                   "data_order": generator.get_state(), **rng_tensors}
        optimizer_values = None
        if optimizer is not None:
            optimizer_tensors, optimizer_values = _optimizer_parts(optimizer)
            tensors.update(_prefixed("optimizer", optimizer_tensors))
        tensors_file = f"{self.name}-epoch-{epoch}.safetensors"
        atomic_write(self.folder / tensors_file, lambda temporary: save_file(tensors, temporary))
        atomic_write_json(self.path, {
            "format": CHECKPOINT_FORMAT, "epoch": epoch, "finished": finished, "tensors": tensors_file,
            "threads": torch.get_num_threads(), "steps": steps, "stopped_early": stopped_early,
            "stopping": stopping_state, "optimizer": optimizer_values, "random": rng_values,
            "history": history, "augmentations": records,
        })
        for older in self.folder.glob(f"{self.name}-epoch-*.safetensors"):  # also those a kill left behind
            if older.name != tensors_file:
                older.unlink(missing_ok=True)

    def epoch(self) -> int | None:
        """The last epoch saved, or None when nothing was saved yet."""
        try:
            return int(json.loads(self.path.read_text())["epoch"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def load(self) -> SavedTraining | None:
        """The saved state, or None when nothing was saved yet."""
        from safetensors.torch import load_file

        if not self.path.is_file():
            return None
        try:
            values = json.loads(self.path.read_text())
            if values.get("format") != CHECKPOINT_FORMAT:
                raise ValueError(f"format {values.get('format')}, expected {CHECKPOINT_FORMAT}")
            tensors = load_file(str(self.folder / values["tensors"]))
        except Exception as exc:  # noqa: BLE001 - any damage is reported the same way
            raise RunError(f"the checkpoint {self.path} cannot be read ({type(exc).__name__}: {exc}); delete the "
                           f"folder {self.folder} to train this run from its start") from None
        return SavedTraining(tensors, values)

    def remove(self) -> None:
        """Delete this checkpoint (its training is finished and its results are written)."""
        self.path.unlink(missing_ok=True)
        for tensors_file in self.folder.glob(f"{self.name}-epoch-*.safetensors"):
            tensors_file.unlink(missing_ok=True)


def saved_threads(folder: Path) -> int | None:
    """The torch thread count the checkpoints in ``folder`` were made with (None: no checkpoint yet)."""
    for path in sorted(folder.glob("*.json")):
        try:
            threads = json.loads(path.read_text()).get("threads")
        except (OSError, ValueError):
            continue
        if isinstance(threads, int) and threads > 0:
            return threads
    return None
