"""Backbone ``linear``: the classic baseline, a linear model over standardized features."""

from __future__ import annotations

import torch
from torch import nn

from mirplug import Backbone


class Linear(Backbone):
    """Passes standardized features to the task's linear head, so the whole model is linear.

    Clip-level features ``(batch, dim)`` (e.g. ``representation=essentia``) arrive already
    standardized by the run's :class:`mirplug.model.Standardize` and pass unchanged; frame
    features ``(batch, channels, frames)`` are pooled to their per-channel mean and standard
    deviation over time, which are standardized again (running statistics, no learned scale)
    because pooling changes their spread. With the default ``train.weight_decay`` this is an
    L2-regularised multinomial logistic regression, the row every MIR paper reports.
    """

    def __init__(self, input_shape: tuple[int, ...], frame_rate: float | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        self.pooled = len(input_shape) == 2
        self.embedding_dim = 2 * input_shape[0] if self.pooled else input_shape[0]
        self.rescale = nn.BatchNorm1d(self.embedding_dim, affine=False) if self.pooled else nn.Identity()
        self.dropout = nn.Dropout(dropout)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if self.pooled:
            features = torch.cat([features.mean(dim=2), features.std(dim=2, unbiased=False)], dim=1)
        return self.dropout(self.rescale(features))
