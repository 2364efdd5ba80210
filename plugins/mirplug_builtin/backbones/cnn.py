"""Backbone ``cnn``: a small 2-D CNN over ``(channels, frames)`` features."""

from __future__ import annotations

import torch
from torch import nn

from mirplug import Backbone, ConfigError


class SmallCNN(Backbone):
    """``(batch, channels, frames)`` -> clip ``(batch, embedding_dim)`` and frames.

    Conv-BN-pool-ReLU blocks with 2x2 max pooling (1x2 once the frequency axis is used up; 2x1 with
    ``pool_time=False``); the frequency axis is averaged away, giving frame embeddings at
    ``frame_rate / 2**blocks`` (or ``frame_rate``);
    the clip embedding is their mean plus their max.
    """

    def __init__(self, input_shape: tuple[int, ...], frame_rate: float | None = None, channels: int = 16,
                 blocks: int = 4, dropout: float = 0.2, pool_time: bool = True) -> None:
        super().__init__()
        if len(input_shape) != 2:
            raise ConfigError(
                f"backbone cnn needs (channels, frames) features, got a clip-level vector {tuple(input_shape)}; "
                "use backbone=mlp for clip-level representations"
            )
        height, width = input_shape
        layers: list[nn.Module] = []
        in_channels, out_channels = 1, channels
        self.time_reduction = 1
        for _ in range(blocks):
            pool_h = 2 if height >= 2 else 1
            pool_w = 2 if width >= 2 and pool_time else 1
            # Pooling before the ReLU gives bitwise the same output and gradients as after it (the ReLU is
            # monotonic, so the maximum of the rectified values is the rectified maximum, at the same
            # position), and the ReLU then works on a quarter of the values: about 1.3x faster training
            # steps on CPU (benchmarks/speed.py). The layers keep their indices, so saved models load.
            layers += [
                nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.MaxPool2d((pool_h, pool_w)),
                nn.ReLU(inplace=True),
            ]
            height, width = height // pool_h, width // pool_w
            self.time_reduction *= pool_w
            in_channels, out_channels = out_channels, min(out_channels * 2, 256)
        # channels-last (NHWC) lets the CPU convolutions and pooling vectorise over channels:
        # about 1.4x faster training on CPU, same weights and results (saved contiguous).
        self.body = nn.Sequential(*layers).to(memory_format=torch.channels_last)
        self.dropout = nn.Dropout(dropout)
        self.embedding_dim = in_channels
        self.frame_rate = frame_rate / self.time_reduction if frame_rate else None

    def frames(self, features: torch.Tensor) -> torch.Tensor:
        """Frame embeddings ``(batch, frames / 2**blocks, embedding_dim)``."""
        hidden = self.body(features.unsqueeze(1).contiguous(memory_format=torch.channels_last))  # (b, c, f, t)
        return hidden.mean(dim=2).transpose(1, 2)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        frames = self.frames(features)
        return self.dropout(frames.mean(dim=1) + frames.amax(dim=1))
