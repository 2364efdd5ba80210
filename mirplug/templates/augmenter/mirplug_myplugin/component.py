"""Augmenter 'myplugin': a random linear fade-in and fade-out."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mirplug import Transform


class Fade(Transform):
    """``(time,)`` -> ``(time,)`` with linear ramps at both ends; never louder than the input."""

    stage = "waveform"

    def __init__(self, p: float = 0.5, max_fade_fraction: float = 0.3) -> None:
        super().__init__(p)
        self.max_fade_fraction = max_fade_fraction

    def sample_parameters(self, example: torch.Tensor, rng: np.random.Generator) -> dict[str, Any]:
        longest = int(self.max_fade_fraction * example.shape[-1])
        return {"fade_in_samples": int(rng.integers(0, longest + 1)),
                "fade_out_samples": int(rng.integers(0, longest + 1))}

    def apply(self, example: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        gain = torch.ones(example.shape[-1], dtype=example.dtype)
        fade_in, fade_out = params["fade_in_samples"], params["fade_out_samples"]
        if fade_in:
            gain[:fade_in] = torch.linspace(0.0, 1.0, fade_in, dtype=example.dtype)
        if fade_out:
            gain[-fade_out:] = torch.minimum(gain[-fade_out:], torch.linspace(1.0, 0.0, fade_out, dtype=example.dtype))
        return example * gain
