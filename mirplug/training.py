"""The training loop: batches, optimizer steps, early stopping as an object, and checkpoints to resume from.

After every epoch the loop saves what it needs to continue exactly (:class:`Checkpoint`): the
trained weights, the optimizer, early stopping, the data-order generator, the global random
states (dropout draws from torch's), the history and the augmentation records. A run killed
at any moment continues from its last finished epoch with ``mirplug run --resume RUN_DIR`` and
ends with the same files as a run that was never interrupted.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mirplug.components import Representation, Task, Transform
from mirplug.data import Windows
from mirplug.errors import ConfigError, DataError, RunError

CHECKPOINT_FOLDER = "checkpoint"  # inside the run folder; removed when the run finishes
CHECKPOINT_FORMAT = 1


class Batches:
    """Feature batches for training, augmenting on the fly when augmenters are chosen.

    Every augmentation applied is kept in ``records`` (the run's ``augmentations.csv``); its
    draws depend only on the seed, the epoch and the window, so a resumed run draws the same.
    """

    def __init__(self, representation: Representation, windows: Windows, features: torch.Tensor | None,
                 targets: torch.Tensor, transforms: list[tuple[str, Transform]], seed: int, device: torch.device,
                 ids: list[str]) -> None:
        self.representation = representation.to(device)
        self.windows, self.features, self.targets = windows, features, targets
        for _, transform in transforms:
            transform.prepare(representation.sample_rate)
        self.waveform = [(n, t) for n, t in transforms if t.stage == "waveform"]
        self.feature = [(n, t) for n, t in transforms if t.stage == "features"]
        self.seed, self.device, self.ids = seed, device, ids
        self.records: list[dict[str, Any]] = []

    def _augment(self, examples: torch.Tensor, stage: list[tuple[str, Transform]], indices: torch.Tensor,
                 epoch: int, offset: int) -> torch.Tensor:
        out = []
        for example, index in zip(examples, indices.tolist()):
            for position, (name, transform) in enumerate(stage):
                rng = np.random.default_rng([self.seed, epoch, index, offset + position])
                example, params = transform(example, rng)
                if params is not None:
                    self.records.append({"epoch": epoch, "window": index,
                                         "id": self.ids[int(self.windows.clip[index])], "augmenter": name,
                                         "params": json.dumps(params, sort_keys=True)})
            out.append(example)
        return torch.stack(out)

    def batch(self, indices: torch.Tensor, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Features and targets of the windows ``indices`` in ``epoch``, augmented, on the device."""
        if self.waveform:
            waves = self._augment(self.windows.waves[indices], self.waveform, indices, epoch, 0)
            with torch.no_grad():
                features = self.representation(waves.to(self.device)).cpu()
        else:
            assert self.features is not None
            features = self.features[indices]
        if self.feature:
            features = self._augment(features, self.feature, indices, epoch, len(self.waveform))
        return features.to(self.device), self.targets[indices].to(self.device)


class EarlyStopping:
    """Keeps the best weights by (validation metric, -validation loss) and says when to stop.

    Training stops after ``patience`` epochs without a better key, but not before ``min_steps``
    optimizer steps. :meth:`state_dict` and :meth:`load_state_dict` carry it across a resume.
    """

    def __init__(self, patience: int, min_steps: int, initial_state: dict[str, torch.Tensor]) -> None:
        self.patience, self.min_steps = patience, min_steps
        self.best_state = copy.deepcopy(initial_state)
        self.best_key: tuple[float, float] | None = None
        self.best_epoch = 0
        self.waited = 0

    def update(self, epoch: int, key: tuple[float, float], state: dict[str, torch.Tensor]) -> None:
        """Record ``epoch``'s validation ``key``; keep a copy of ``state`` when it is the best so far."""
        if self.best_key is None or key > self.best_key:
            self.best_key, self.best_epoch, self.waited = key, epoch, 0
            self.best_state = copy.deepcopy(state)
        else:
            self.waited += 1

    def should_stop(self, steps: int) -> bool:
        """Whether patience ran out with at least ``min_steps`` optimizer steps done."""
        return self.waited >= self.patience and steps >= self.min_steps

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue: the best weights (tensors) and the counters (JSON values)."""
        return {"best_state": self.best_state, "best_key": list(self.best_key) if self.best_key else None,
                "best_epoch": self.best_epoch, "waited": self.waited}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`'s result."""
        self.best_state = dict(state["best_state"])
        self.best_key = tuple(state["best_key"]) if state["best_key"] is not None else None  # type: ignore[assignment]
        self.best_epoch, self.waited = int(state["best_epoch"]), int(state["waited"])


@dataclass
class Fitted:
    """How training went: per-epoch history, optimizer steps, whether patience stopped it, the best epoch."""

    history: list[dict[str, Any]]
    steps: int
    stopped_early: bool
    best_epoch: int


@dataclass
class LoopSettings:
    """The numbers the loop needs (from ``train.*`` and the seed)."""

    epochs: int
    batch_size: int
    patience: int
    min_steps: int
    seed: int
    mixup_alpha: float = 0.0


MIXUP_STREAM = 2**32 - 1  # the last entry of mixup's seed, apart from the augmenters' (small positions)


def mixup(task: Task, inputs: torch.Tensor, targets: torch.Tensor, net: torch.nn.Module, alpha: float, seed: int,
          epoch: int, first: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The outputs on a mixed batch and its mixed targets (Zhang et al., mixup, ICLR 2018).

    One weight per batch from Beta(alpha, alpha) and a permutation of the batch pair every example
    with a partner; both are drawn from a generator seeded with the seed, the epoch and the batch's
    first position, so a resumed run draws the same. The inputs (features, or a frozen backbone's
    embeddings) are mixed linearly, the targets by :meth:`Task.mix_targets`.
    """
    rng = np.random.default_rng([seed, epoch, first, MIXUP_STREAM])
    weight = float(rng.beta(alpha, alpha))
    partner = torch.as_tensor(rng.permutation(len(inputs)), device=inputs.device)
    outputs = net(weight * inputs + (1.0 - weight) * inputs[partner])
    return outputs, task.mix_targets(targets, targets[partner], weight, int(outputs.shape[-1]))


Validate = Callable[[], tuple[float, float]]  # -> (validation loss, validation main metric)


def fit(net: torch.nn.Module, optimizer: torch.optim.Optimizer | None, task: Task, batches: Batches,
        n_windows: int, validate: Validate, settings: LoopSettings, progress: Any,
        checkpoint: Checkpoint | None = None, model_name: str = "the model") -> tuple[Fitted, EarlyStopping]:
    """Train ``net`` with early stopping; ``net`` ends with its last epoch's weights (the best are returned).

    Each epoch draws a fresh order of the ``n_windows`` training windows from a generator seeded
    with ``settings.seed``, steps the optimizer per batch and scores the validation split with
    ``validate``. With ``checkpoint``, training continues from the epoch saved there (if any)
    and saves after every epoch.
    """
    history: list[dict[str, Any]] = []
    stopping = EarlyStopping(settings.patience, settings.min_steps, net.state_dict())
    generator = torch.Generator().manual_seed(settings.seed)
    steps, stopped_early, start, done = 0, False, 1, False
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        history, steps, stopped_early, done = saved.restore(net, optimizer, stopping, generator, batches)
        start = len(history) + 1
    bar = progress.add_task("training", total=settings.epochs, completed=start - 1)
    for epoch in range(start, settings.epochs + 1):
        if done:
            break
        net.train()
        order = torch.randperm(n_windows, generator=generator)
        total_loss = 0.0
        for first in range(0, n_windows, settings.batch_size):
            indices = order[first:first + settings.batch_size]
            if len(indices) < 2 and n_windows > 1:
                continue  # batch norm cannot train on a single example
            inputs, batch_targets = batches.batch(indices, epoch)
            if settings.mixup_alpha > 0:
                outputs, batch_targets = mixup(task, inputs, batch_targets, net, settings.mixup_alpha, settings.seed,
                                               epoch, first)
            else:
                outputs = net(inputs)
            loss = task.loss(outputs, batch_targets)
            if not torch.isfinite(loss):
                raise DataError(f"the training loss became {loss.item()} at epoch {epoch}; lower train.lr")
            if optimizer is None:
                raise ConfigError(f"backbone '{model_name}' and its head have no trainable parameters")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
            total_loss += loss.item() * len(indices)
        val_loss, val_metric = validate()
        history.append({"epoch": epoch, "train_loss": total_loss / max(1, n_windows), "validation_loss": val_loss,
                        f"validation_{task.main_metric}": val_metric})
        stopping.update(epoch, (val_metric, -val_loss), net.state_dict())
        progress.update(bar, advance=1, description=f"training (val {task.main_metric} {val_metric:.3f}, "
                                                    f"best epoch {stopping.best_epoch})")
        stopped_early = stopping.should_stop(steps)
        if checkpoint is not None:
            checkpoint.save(epoch, stopped_early or epoch == settings.epochs, net, optimizer, stopping, generator,
                            steps, stopped_early, history, batches.records)
        if stopped_early:
            break
    return Fitted(history, steps, stopped_early, stopping.best_epoch), stopping


# ---------------------------------------------------------------------------------------------
# checkpoints


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


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call ``write(temporary_path)``, flush it to disk, then rename it to ``path``.

    A kill at any moment leaves either the old file or the new one, never half of one.
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(temporary)
        with open(temporary, "rb") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (see :func:`atomic_write`)."""
    text = json.dumps(data, indent=1) + "\n"
    atomic_write(path, lambda temporary: Path(temporary).write_text(text))


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


@contextmanager
def run_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder/RUNNING`` (an exclusive lock, released by the OS if the process dies) while a run works.

    A second process on the same folder (resuming a run that is still running) is refused.
    The marker is removed when the block ends normally.
    """
    marker = folder / "RUNNING"
    handle = open(marker, "a+")
    try:
        try:
            import fcntl
        except ImportError:  # Windows: no lock, the marker only
            fcntl = None  # type: ignore[assignment]
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.seek(0)
                owner = handle.read().strip() or "another process"
                raise RunError(f"{folder} is being written by a running mirplug ({owner}); wait for it to end "
                               f"or stop it, then resume") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        yield
        marker.unlink(missing_ok=True)
    finally:
        handle.close()


def epochs_for(epochs: int, min_steps: int, n_windows: int, batch_size: int) -> int:
    """The epoch limit grown so that ``min_steps`` optimizer steps fit in (few examples: a step or two per epoch)."""
    if epochs and min_steps:
        return max(epochs, math.ceil(min_steps / max(1, math.ceil(n_windows / batch_size))))
    return epochs
