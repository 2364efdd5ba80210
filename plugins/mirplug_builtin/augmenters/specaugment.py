"""Augmenter ``specaugment``: frequency and time masking of features."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mirplug import Transform


class SpecAugment(Transform):
    """``(channels, frames)`` -> same shape with random bands and spans set to the example's mean."""

    stage = "features"

    def __init__(self, p: float = 0.5, freq_masks: int = 2, max_freq_width: int = 8, time_masks: int = 2,
                 max_time_width: int = 20) -> None:
        super().__init__(p)
        self.freq_masks, self.max_freq_width = freq_masks, max_freq_width
        self.time_masks, self.max_time_width = time_masks, max_time_width

    def sample_parameters(self, example: torch.Tensor, rng: np.random.Generator) -> dict[str, Any]:
        channels, frames = example.shape[-2], example.shape[-1]

        def spans(count: int, widest: int, size: int) -> list[list[int]]:
            result = []
            for _ in range(count):
                width = int(rng.integers(0, min(widest, size) + 1))
                start = int(rng.integers(0, size - width + 1))
                result.append([start, width])
            return result

        return {"freq": spans(self.freq_masks, self.max_freq_width, channels),
                "time": spans(self.time_masks, self.max_time_width, frames)}

    def apply(self, example: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        masked = example.clone()
        fill = example.mean()
        for start, width in params["freq"]:
            masked[..., start:start + width, :] = fill
        for start, width in params["time"]:
            masked[..., start:start + width] = fill
        return masked
