"""Augmenter ``noise``: add white noise at a random signal-to-noise ratio."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mirplug import ConfigError, Transform


class Noise(Transform):
    """``(time,)`` -> ``(time,)`` plus Gaussian white noise at ``snr_db`` below the signal's RMS."""

    stage = "waveform"

    def __init__(self, p: float = 0.5, min_snr_db: float = 10.0, max_snr_db: float = 40.0) -> None:
        super().__init__(p)
        if min_snr_db > max_snr_db:
            raise ConfigError(f"augmenter noise: min_snr_db={min_snr_db} exceeds max_snr_db={max_snr_db}")
        self.min_snr_db, self.max_snr_db = min_snr_db, max_snr_db

    def sample_parameters(self, example: torch.Tensor, rng: np.random.Generator) -> dict[str, Any]:
        return {"snr_db": float(rng.uniform(self.min_snr_db, self.max_snr_db)),
                "noise_seed": int(rng.integers(2**31))}

    def apply(self, example: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        rms = example.pow(2).mean().sqrt()
        noise = np.random.default_rng(params["noise_seed"]).standard_normal(example.shape[-1])
        noise_t = torch.as_tensor(noise, dtype=example.dtype, device=example.device)
        return example + noise_t * rms * (10.0 ** (-params["snr_db"] / 20.0))
