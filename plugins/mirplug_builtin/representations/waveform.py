"""Representation ``waveform``: the raw samples as one channel."""

from __future__ import annotations

import torch

from mirplug import Representation


class Waveform(Representation):
    """``(batch, time)`` -> ``(batch, 1, time)``; the frame rate is the sample rate."""

    thread_safe = True  # pure torch; forward changes no state

    def __init__(self, sample_rate: int = 16000) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.frame_rate = float(sample_rate)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return waveform.unsqueeze(1)
