"""Augmenter ``gain``: multiply the waveform by a random gain."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mirplug import ConfigError, Transform


class Gain(Transform):
    """``(time,)`` -> ``(time,)`` scaled by ``10 ** (gain_db / 20)``, gain_db uniform in the range."""

    stage = "waveform"

    def __init__(self, p: float = 0.5, min_gain_db: float = -12.0, max_gain_db: float = 12.0) -> None:
        super().__init__(p)
        if min_gain_db > max_gain_db:
            raise ConfigError(f"augmenter gain: min_gain_db={min_gain_db} exceeds max_gain_db={max_gain_db}")
        self.min_gain_db, self.max_gain_db = min_gain_db, max_gain_db

    def sample_parameters(self, example: torch.Tensor, rng: np.random.Generator) -> dict[str, Any]:
        return {"gain_db": float(rng.uniform(self.min_gain_db, self.max_gain_db))}

    def apply(self, example: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        return example * (10.0 ** (params["gain_db"] / 20.0))
