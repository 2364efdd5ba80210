"""Base classes of the component kinds (imported lazily: this module imports torch).

Shapes follow torchaudio's docstring convention: ``(batch, time)`` for waveforms,
``(batch, channels, frames)`` for time-frequency features, ``(batch, dim)`` for
clip-level vectors.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from mirplug.errors import ConfigError


class Representation(nn.Module):
    """Waveform ``(batch, time)`` at :attr:`sample_rate` -> features.

    Features are ``(batch, channels, frames)`` with :attr:`frame_rate` frames per second,
    or a clip-level ``(batch, dim)`` with ``frame_rate = None``. Subclasses hold no
    trainable parameters, so a representation is rebuilt from its options alone.
    """

    sample_rate: int = 16000
    frame_rate: float | None = None


class Backbone(nn.Module):
    """Features (one example: :attr:`input_shape`) -> embeddings.

    ``forward`` returns clip embeddings ``(batch, embedding_dim)``. A backbone that can
    also give frame embeddings sets :attr:`frame_rate` and implements :meth:`frames`,
    returning ``(batch, frames, embedding_dim)``.
    """

    embedding_dim: int
    frame_rate: float | None = None
    # A backbone with its own input normalisation (e.g. a pretrained network) sets this False,
    # and the runner leaves its inputs unstandardized.
    standardize_input: bool = True
    # A frozen backbone's embeddings are computed once and only the head trains.
    frozen: bool = False
    # The head on top: "linear" (the task's own), "mlp", or "centroid" (nearest class centroid).
    head_kind: str = "linear"

    def frames(self, features: torch.Tensor) -> torch.Tensor:
        """Frame embeddings ``(batch, frames, embedding_dim)``; clip-only backbones raise."""
        raise ConfigError(f"backbone {type(self).__name__} gives clip embeddings only, not frames")

    def timestamps(self, n_frames: int) -> torch.Tensor:
        """Centre time in seconds of each of ``n_frames`` frame embeddings."""
        if self.frame_rate is None:
            raise ValueError(f"{type(self).__name__} has no frame rate")
        return (torch.arange(n_frames, dtype=torch.float32) + 0.5) / self.frame_rate


class Transform(abc.ABC):
    """A seeded augmentation applied to one example with probability :attr:`p`.

    Subclasses implement :meth:`sample_parameters` (draw from ``rng``) and :meth:`apply`
    (deterministic given the parameters), so every application is reproducible from the
    recorded parameters. ``stage`` is ``"waveform"`` (input ``(time,)``) or
    ``"features"`` (input ``(channels, frames)``).
    """

    stage: str = "waveform"

    def __init__(self, p: float = 0.5) -> None:
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"augmenter {type(self).__name__}: p={p} must lie in [0, 1]")
        self.p = p

    @abc.abstractmethod
    def sample_parameters(self, example: torch.Tensor, rng: np.random.Generator) -> dict[str, Any]:
        """Draw this application's parameters."""

    @abc.abstractmethod
    def apply(self, example: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        """Apply with the given parameters; the same parameters give the same output."""

    def __call__(self, example: torch.Tensor, rng: np.random.Generator) -> tuple[torch.Tensor, dict[str, Any] | None]:
        """Apply with probability ``p``; returns the output and the parameters (``None``: skipped)."""
        if rng.random() >= self.p:
            return example, None
        params = self.sample_parameters(example, rng)
        return self.apply(example, params), params

    def describe(self, params: dict[str, Any]) -> str:
        """The parameters as JSON, for provenance records."""
        return json.dumps(params, sort_keys=True)


class Task(abc.ABC):
    """What a task predicts and how it is scored.

    A task turns dataset rows into targets, gives the head and the loss, turns outputs
    into predictions and computes metrics and plots.
    """

    label_kind: str = "single-label"
    main_metric: str = "macro_f1"
    label_column: str | None = None
    frame_level: bool = False
    stratify: bool = True  # single-label tasks split stratified by label when True

    @abc.abstractmethod
    def label_names(self, dataset: Any) -> list[str]:
        """The output names (class names, tags or targets) from the dataset's features."""

    @abc.abstractmethod
    def targets(self, rows: Any) -> torch.Tensor:
        """Targets for a batch of dataset rows."""

    @abc.abstractmethod
    def build_head(self, embedding_dim: int, n_outputs: int) -> nn.Module:
        """The trainable head on top of the clip embedding."""

    @abc.abstractmethod
    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The training loss."""

    @abc.abstractmethod
    def probabilities(self, outputs: torch.Tensor) -> torch.Tensor:
        """Head outputs -> probabilities (or values, for regression)."""

    @abc.abstractmethod
    def metrics(self, targets: np.ndarray, probabilities: np.ndarray, names: Sequence[str]) -> dict[str, Any]:
        """Metrics of ``probabilities`` against ``targets``; must include :attr:`main_metric`."""

    def plots(self, folder: Any, targets: np.ndarray, probabilities: np.ndarray, names: Sequence[str]) -> list[str]:
        """Write plots into ``folder``; return the file names."""
        return []

    def window_targets(self, rows: Any, windows: Any, frame_rate: float | None, n_frames: int | None) -> torch.Tensor:
        """Training targets per window (``windows`` is a :class:`mirplug.data.Windows`).

        Clip-level tasks repeat each clip's target; frame-level tasks build per-frame targets.
        """
        return self.targets(rows)[windows.clip]

    def clip_targets(self, rows: Any) -> Any:
        """The references that :meth:`metrics` scores against, one per clip."""
        return self.targets(rows).numpy()

    def aggregate(self, outputs: torch.Tensor, windows: Any, n_clips: int, frame_rate: float | None) -> Any:
        """Window outputs -> one prediction per clip: the mean of the window probabilities."""
        probabilities = self.probabilities(outputs)
        summed = torch.zeros((n_clips, *probabilities.shape[1:]))
        summed.index_add_(0, windows.clip, probabilities)
        counts = torch.bincount(windows.clip, minlength=n_clips).clamp_min(1)
        return (summed / counts.reshape(-1, *([1] * (probabilities.dim() - 1)))).numpy()

    def format_target(self, target: np.ndarray, names: Sequence[str]) -> str:
        """A target as text for ``predictions.csv``."""
        return json.dumps(np.asarray(target).tolist())

    @abc.abstractmethod
    def prediction_rows(self, probabilities: np.ndarray, names: Sequence[str]) -> list[dict[str, Any]]:
        """One dict per example for ``predictions.csv`` and ``mirplug predict``."""
