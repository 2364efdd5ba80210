"""The training loop: batches, optimizer steps, early stopping as an object.

:func:`fit` trains a network epoch by epoch and keeps the best weights (:class:`EarlyStopping`);
after every epoch it saves its state to a :class:`~mirplug.checkpoint.Checkpoint` when given one,
so a killed run continues exactly (``mirplug run --resume``).

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mirplug.components import Representation, Task, Transform
from mirplug.errors import ConfigError, DataError
from mirplug.distributed import Ranks, from_main, local_batch, parallel, total
from mirplug.inference import autocast, to_device
from mirplug.rows import Rows

if TYPE_CHECKING:
    from mirplug.checkpoint import Checkpoint
    from mirplug.windows import Windows

FEW_STEPS = 100  # early stopping before this many optimizer steps gets a note (see mirplug.runner.fit_fold)


class Batches:
    """Feature batches for training, augmenting on the fly when augmenters are chosen.

    ``features`` are read a batch at a time (:class:`~mirplug.rows.Rows`: from the cache entries).

    Every augmentation applied is kept in ``records`` (the run's ``augmentations.csv``); its
    draws depend only on the seed, the epoch and the window, so a resumed run draws the same.
    """

    def __init__(self, representation: Representation, windows: Windows, features: Rows | torch.Tensor | None,
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
        """Features and targets of the windows ``indices`` in ``epoch``, augmented, on the device (copied from
        pinned memory without waiting, on a GPU)."""
        if self.waveform:
            waves = self._augment(self.windows.waves[indices], self.waveform, indices, epoch, 0)
            with torch.no_grad():
                features = self.representation(waves.to(self.device)).cpu()
        else:
            assert self.features is not None
            features = self.features[indices]
        if self.feature:
            features = self._augment(features, self.feature, indices, epoch, len(self.waveform))
        return to_device(features, self.device), to_device(self.targets[indices], self.device)


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
    """The numbers the loop needs (from ``train.*`` and the seed), and where it runs."""

    epochs: int
    batch_size: int
    patience: int
    min_steps: int
    seed: int
    mixup_alpha: float = 0.0
    ranks: Ranks = field(default_factory=Ranks)  # data-parallel processes (torchrun); one by default
    precision: str = "fp32"  # train.precision: autocast dtype of forward passes
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))


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


def forward(net: torch.nn.Module, task: Task, inputs: torch.Tensor, targets: torch.Tensor, settings: LoopSettings,
            epoch: int, first: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch's outputs and the targets to score them against (both mixed when ``mixup_alpha`` > 0)."""
    if settings.mixup_alpha > 0:
        return mixup(task, inputs, targets, net, settings.mixup_alpha, settings.seed, epoch, first)
    return net(inputs), targets


def fit(net: torch.nn.Module, optimizer: torch.optim.Optimizer | None, task: Task, batches: Batches,
        n_windows: int, validate: Validate, settings: LoopSettings, progress: Any,
        checkpoint: Checkpoint | None = None, model_name: str = "the model",
        on_epoch: Callable[[dict[str, Any]], None] | None = None) -> tuple[Fitted, EarlyStopping]:
    """Train ``net`` with early stopping; ``net`` ends with its last epoch's weights (the best are returned).

    Each epoch draws a fresh order of the ``n_windows`` training windows from a generator seeded
    with ``settings.seed`` (with several processes: :class:`~torch.utils.data.DistributedSampler`, seeded
    alike, gives each its part), steps the optimizer per batch and scores the validation split with
    ``validate``. With ``checkpoint``, training continues from the epoch saved there (if any)
    and rank 0 saves after every epoch. ``on_epoch`` is then given the epoch's row of the history.
    """
    history: list[dict[str, Any]] = []
    stopping = EarlyStopping(settings.patience, settings.min_steps, net.state_dict())
    generator = torch.Generator().manual_seed(settings.seed)
    steps, stopped_early, start, done = 0, False, 1, False
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        history, steps, stopped_early, done = saved.restore(net, optimizer, stopping, generator, batches)
        start = len(history) + 1
    stepper = Stepper(parallel(net, settings.ranks, settings.device), optimizer, task, settings, model_name)
    bar = progress.add_task("training", total=settings.epochs, completed=start - 1)
    for epoch in range(start, settings.epochs + 1):
        if done:
            break
        net.train()
        train_loss, steps = stepper.epoch(batches, epoch_batches(n_windows, generator, epoch, settings), epoch, steps)
        val_loss, val_metric = validate()
        history.append({"epoch": epoch, "train_loss": train_loss / max(1, n_windows), "validation_loss": val_loss,
                        f"validation_{task.main_metric}": val_metric})
        stopping.update(epoch, (val_metric, -val_loss), net.state_dict())
        progress.update(bar, advance=1, description=f"training (val {task.main_metric} {val_metric:.3f}, "
                                                    f"best epoch {stopping.best_epoch})")
        # every rank scores the same weights alike; rank 0's decision is taken all the same
        stopped_early = bool(from_main(stopping.should_stop(steps), settings.ranks))
        if checkpoint is not None and settings.ranks.main:
            checkpoint.save(epoch, stopped_early or epoch == settings.epochs, net, optimizer, stopping, generator,
                            steps, stopped_early, history, batches.records)
        if on_epoch is not None:
            on_epoch(dict(history[-1]))
        if stopped_early:
            break
    return Fitted(history, steps, stopped_early, stopping.best_epoch), stopping


def epoch_batches(n_windows: int, generator: torch.Generator, epoch: int, settings: LoopSettings) -> list[torch.Tensor]:
    """The window indices of each batch of ``epoch``: a permutation drawn from ``generator`` cut into
    ``train.batch_size`` batches, or, with several processes, this rank's part of the epoch
    (:class:`~torch.utils.data.DistributedSampler`, seeded with the run's seed and the epoch) cut into
    its share of the global batch."""
    if settings.ranks.active:
        from torch.utils.data import DistributedSampler

        sampler = DistributedSampler(range(n_windows), num_replicas=settings.ranks.world, rank=settings.ranks.rank,
                                     shuffle=True, seed=settings.seed)
        sampler.set_epoch(epoch)
        order, size = torch.as_tensor(list(sampler), dtype=torch.long), local_batch(settings.batch_size, settings.ranks)
    else:
        order, size = torch.randperm(n_windows, generator=generator), settings.batch_size
    return [order[first:first + size] for first in range(0, len(order), size)]


class Stepper:
    """Optimizer steps on batches: forward under ``train.precision``'s autocast (fp16 with a gradient scaler),
    backward through DistributedDataParallel when several processes train."""

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None, task: Task,
                 settings: LoopSettings, model_name: str) -> None:
        self.model, self.optimizer, self.task, self.settings, self.model_name = model, optimizer, task, settings, model_name
        fp16 = settings.precision == "fp16"
        self.scaler = torch.amp.GradScaler(settings.device.type) if fp16 and optimizer is not None else None

    def epoch(self, batches: Batches, order: list[torch.Tensor], epoch: int, steps: int) -> tuple[float, int]:
        """Train on every batch of ``order``; the summed training loss (over all processes) and the steps taken."""
        total_loss = 0.0
        several = self.settings.ranks.active
        for position, indices in enumerate(order):
            if len(indices) < 2 and (len(order) > 1 or several):
                continue  # batch norm cannot train on a single example
            inputs, batch_targets = batches.batch(indices, epoch)
            with autocast(self.settings.device, self.settings.precision):
                # mixup's draws are keyed by the global batch's first position, as in one process
                outputs, batch_targets = forward(self.model, self.task, inputs, batch_targets, self.settings, epoch,
                                                 position * self.settings.batch_size)
            loss = self.task.loss(outputs.float(), batch_targets)
            if not torch.isfinite(loss):
                raise DataError(f"the training loss became {loss.item()} at epoch {epoch}; lower train.lr")
            if self.optimizer is None:
                raise ConfigError(f"backbone '{self.model_name}' and its head have no trainable parameters")
            self.optimizer.zero_grad()
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                loss.backward()
                self.optimizer.step()
            steps += 1
            total_loss += loss.item() * len(indices)
        return total(total_loss, self.settings.ranks), steps


def epochs_for(epochs: int, min_steps: int, n_windows: int, batch_size: int) -> int:
    """The epoch limit grown so that ``min_steps`` optimizer steps fit in (few examples: a step or two per epoch)."""
    if epochs and min_steps:
        return max(epochs, math.ceil(min_steps / max(1, math.ceil(n_windows / batch_size))))
    return epochs
