"""Backbone 'myplugin': a 1-D convolution over time, then mean pooling."""

from __future__ import annotations

import torch
from torch import nn

from mirplug import Backbone


class ConvPool(Backbone):
    """``(batch, channels, frames)`` -> conv -> ReLU -> mean over frames -> ``(batch, hidden)``.

    Clip-level features ``(batch, dim)`` go through a linear layer instead.
    """

    def __init__(self, input_shape: tuple[int, ...], frame_rate: float | None = None, hidden: int = 64,
                 kernel_frames: int = 5) -> None:
        super().__init__()
        self.framed = len(input_shape) == 2
        if self.framed:
            self.layer: nn.Module = nn.Conv1d(input_shape[0], hidden, kernel_frames, padding=kernel_frames // 2)
        else:
            self.layer = nn.Linear(input_shape[0], hidden)
        self.embedding_dim = hidden

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(self.layer(features))
        return hidden.mean(dim=2) if self.framed else hidden
