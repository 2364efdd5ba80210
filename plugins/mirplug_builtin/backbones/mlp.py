"""Backbone ``mlp``: an MLP over time-pooled features."""

from __future__ import annotations

import torch
from torch import nn

from mirplug import Backbone


class PooledMLP(Backbone):
    """``(batch, channels, frames)`` -> mean and std over frames -> MLP -> ``(batch, hidden)``.

    Clip-level features ``(batch, dim)`` go straight into the MLP. Clip embeddings only.
    """

    def __init__(self, input_shape: tuple[int, ...], frame_rate: float | None = None, hidden: int = 128,
                 layers: int = 2, dropout: float = 0.2) -> None:
        super().__init__()
        self.pooled = len(input_shape) == 2
        width = 2 * input_shape[0] if self.pooled else input_shape[0]
        modules: list[nn.Module] = []
        for _ in range(layers):
            modules += [nn.Linear(width, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout)]
            width = hidden
        self.mlp = nn.Sequential(*modules)
        self.embedding_dim = hidden

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if self.pooled:
            features = torch.cat([features.mean(dim=2), features.std(dim=2, unbiased=False)], dim=1)
        return self.mlp(features)
