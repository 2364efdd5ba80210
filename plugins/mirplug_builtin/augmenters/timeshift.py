"""Augmenter ``timeshift``: shift the waveform in time."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mirplug import Transform


class TimeShift(Transform):
    """``(time,)`` -> ``(time,)`` shifted by up to ``max_shift_fraction`` of its length either way."""

    stage = "waveform"

    def __init__(self, p: float = 0.5, max_shift_fraction: float = 0.5, rollover: bool = True) -> None:
        super().__init__(p)
        self.max_shift_fraction, self.rollover = max_shift_fraction, rollover

    def sample_parameters(self, example: torch.Tensor, rng: np.random.Generator) -> dict[str, Any]:
        limit = int(self.max_shift_fraction * example.shape[-1])
        return {"shift_samples": int(rng.integers(-limit, limit + 1))}

    def apply(self, example: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        shift = params["shift_samples"]
        shifted = torch.roll(example, shift, dims=-1)
        if not self.rollover and shift:
            if shift > 0:
                shifted[..., :shift] = 0
            else:
                shifted[..., shift:] = 0
        return shifted
