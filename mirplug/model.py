"""The trainable model of a run: standardize -> backbone -> head (built by :func:`mirplug.build.build_model`).

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mirplug.components import Backbone, Task
from mirplug.errors import ConfigError
from mirplug.rows import Rows, as_rows


class Standardize(nn.Module):
    """Per-channel standardization with statistics fitted on the training features."""

    def __init__(self, input_shape: Sequence[int]) -> None:
        super().__init__()
        shape = (input_shape[0], 1) if len(input_shape) == 2 else tuple(input_shape)
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("std", torch.ones(shape))

    def fit(self, features: torch.Tensor | Rows, batch_size: int = 256) -> None:
        """Fit on ``(examples, channels, frames)`` features (per channel) or others (per element), read a batch
        at a time: mean and unbiased standard deviation accumulated in float64 (Chan et al.'s pairwise update),
        so the result does not depend on how the rows are batched beyond float64 rounding."""
        count, mean, squares = 0, None, None
        for _, batch in as_rows(features).batches(batch_size):
            values = batch.double()
            # one row per statistic: channels of (examples, channels, frames), else every element
            values = values.transpose(0, 1).reshape(values.shape[1], -1) if values.dim() == 3 else \
                values.reshape(len(values), -1).T
            n = values.shape[1]
            batch_mean = values.mean(dim=1)
            batch_squares = ((values - batch_mean[:, None]) ** 2).sum(dim=1)
            if mean is None or squares is None:
                count, mean, squares = n, batch_mean, batch_squares
                continue
            delta, total = batch_mean - mean, count + n
            mean = mean + delta * (n / total)
            squares = squares + batch_squares + delta ** 2 * (count * n / total)
            count = total
        if mean is None or squares is None:
            return
        std = (squares / max(count - 1, 1)).sqrt()
        self.mean.copy_(mean.reshape(self.mean.shape).to(self.mean.dtype))
        self.std.copy_(std.reshape(self.std.shape).to(self.std.dtype).clamp_min(1e-5))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.mean) / self.std


class MirModel(nn.Module):
    """Features -> task outputs."""

    def __init__(self, standardize: Standardize, backbone: Backbone, head: nn.Module, frame_level: bool = False) -> None:
        super().__init__()
        self.standardize = standardize
        self.backbone = backbone
        self.head = head
        self.frame_level = frame_level

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Clip outputs ``(batch, outputs)``, or per-frame outputs ``(batch, frames)`` for frame-level tasks."""
        if self.frame_level:
            return self.head(self.backbone.frames(self.standardize(features))).squeeze(-1)
        return self.head(self.backbone(self.standardize(features)))


class CentroidHead(nn.Module):
    """Nearest-class-centroid head: scaled cosine similarity to each class's mean embedding.

    Embeddings are centred on the training mean and L2-normalised; :meth:`fit` sets the
    centroids from training embeddings, so the head needs no gradient training at all.
    """

    scale = 10.0  # a softmax temperature: cosine similarities alone give nearly flat probabilities

    def __init__(self, embedding_dim: int, n_outputs: int) -> None:
        super().__init__()
        self.register_buffer("center", torch.zeros(embedding_dim))
        self.register_buffer("centroids", torch.zeros(n_outputs, embedding_dim))

    def fit(self, embeddings: torch.Tensor | Rows, targets: torch.Tensor, batch_size: int = 256) -> None:
        """Centroids of the training ``embeddings`` ``(examples, dim)`` per class in ``targets``, read a batch at
        a time (two passes: the centre, then the class means of the centred unit vectors, in float64)."""
        rows, targets = as_rows(embeddings), targets.cpu()
        total, count = torch.zeros(self.center.shape, dtype=torch.float64), 0
        for _, batch in rows.batches(batch_size):
            total += batch.double().sum(dim=0).cpu()
            count += len(batch)
        self.center.copy_((total / max(count, 1)).to(self.center.dtype))
        sums = torch.zeros(self.centroids.shape, dtype=torch.float64)
        for first, batch in rows.batches(batch_size):
            unit = nn.functional.normalize(batch.to(self.center.device) - self.center, dim=1)
            sums.index_add_(0, targets[first:first + len(batch)].long(), unit.double().cpu())
        members = torch.bincount(targets.long(), minlength=self.centroids.shape[0])
        for label in range(self.centroids.shape[0]):
            if members[label]:
                self.centroids[label] = nn.functional.normalize(sums[label] / members[label], dim=0).to(
                    self.centroids.dtype)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        unit = nn.functional.normalize(embeddings - self.center, dim=1)
        return self.scale * unit @ self.centroids.T


def build_head(task: Task, backbone: Backbone, n_outputs: int) -> nn.Module:
    """The task's head, or the head the backbone asks for (:attr:`~mirplug.components.Backbone.head_kind`).

    ``linear`` (default) is the task's own head, ``mlp`` puts one hidden layer of 256 units
    before it, ``centroid`` is a :class:`CentroidHead` (single-label tasks only), ``probe`` a
    :class:`mirplug.probe.ProbeHead` (frozen backbones only: a linear probe whose regularisation is
    chosen on held-out data, fitted by scikit-learn).
    """
    kind = backbone.head_kind
    if kind == "probe":
        from mirplug.probe import ProbeHead, grid_for

        if not backbone.frozen:
            raise ConfigError(f"the probe head fits on fixed embeddings: it needs a frozen backbone "
                              f"({type(backbone).__name__} is trained); run the backbone frozen or choose another head")
        if task.frame_level:
            raise ConfigError("the probe head fits clip-level tasks; this task predicts per frame; choose another head")
        grid_for(task.label_kind)
        return ProbeHead(backbone.embedding_dim, n_outputs)
    if kind == "centroid":
        if task.label_kind != "single-label":
            raise ConfigError(f"the centroid head needs a single-label task, not a {task.label_kind} one; choose "
                              f"another head")
        return CentroidHead(backbone.embedding_dim, n_outputs)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(backbone.embedding_dim, 256), nn.ReLU(), nn.Dropout(0.2),
                             task.build_head(256, n_outputs))
    return task.build_head(backbone.embedding_dim, n_outputs)
