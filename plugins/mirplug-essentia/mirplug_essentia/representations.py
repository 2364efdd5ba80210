"""Representations ``essentia`` (clip-level descriptor vector) and ``essentia-frames`` (per frame).

Essentia runs on the CPU in numpy, one clip at a time: a batch is handled by looping, and the
result is returned on the input's device so the rest of the pipeline is unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mirplug import ConfigError, Representation
from mirplug_essentia.descriptors import DescriptorExtractor, clip_names, frame_names


def _check(sample_rate: int, frame_samples: int, hop_samples: int) -> None:
    if frame_samples % 2:
        raise ConfigError(f"representation.frame_samples={frame_samples} must be even (Essentia's Spectrum); "
                          f"use e.g. {frame_samples + 1}")
    if not 1 <= hop_samples <= frame_samples:
        raise ConfigError(f"representation.hop_samples={hop_samples} must lie between 1 and frame_samples="
                          f"{frame_samples}")
    if sample_rate < 8000:
        raise ConfigError(f"representation.sample_rate={sample_rate} is below Essentia's 8000 Hz minimum here")


class _EssentiaBase(Representation):
    def __init__(self, sample_rate: int, frame_samples: int, hop_samples: int) -> None:
        super().__init__()
        _check(sample_rate, frame_samples, hop_samples)
        self.sample_rate = sample_rate
        self.frame_samples = frame_samples  # shorter clips are skipped (Representation.frame_samples)
        self.hop_samples = hop_samples
        self._extractor: DescriptorExtractor | None = None

    @property
    def extractor(self) -> DescriptorExtractor:
        """The configured Essentia algorithms, built on first use (they cannot be pickled or copied)."""
        if self._extractor is None:
            self._extractor = DescriptorExtractor(self.sample_rate, self.frame_samples, self.hop_samples)
        return self._extractor

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_extractor"] = None
        return state

    def _each_clip(self, waveform: torch.Tensor, per_clip: Any) -> torch.Tensor:
        signals = waveform.detach().to("cpu", torch.float32).numpy()
        out = np.stack([per_clip(signal) for signal in signals]) if len(signals) else np.zeros((0,))
        return torch.from_numpy(out).to(waveform.device)


class EssentiaClip(_EssentiaBase):
    """``(batch, time)`` -> ``(batch, len(names))``: the clip-level descriptor vector, dimensions in :attr:`names`."""

    def __init__(self, sample_rate: int = 44100, frame_samples: int = 2048, hop_samples: int = 1024) -> None:
        super().__init__(sample_rate, frame_samples, hop_samples)
        self.frame_rate = None
        self.names = clip_names()

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self._each_clip(waveform, self.extractor.clip)


class EssentiaFrames(_EssentiaBase):
    """``(batch, time)`` -> ``(batch, len(names), frames)`` at :attr:`frame_rate` = sample_rate / hop_samples."""

    def __init__(self, sample_rate: int = 44100, frame_samples: int = 2048, hop_samples: int = 1024) -> None:
        super().__init__(sample_rate, frame_samples, hop_samples)
        self.frame_rate = sample_rate / hop_samples
        self.names = frame_names()

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self._each_clip(waveform, self.extractor.frames)
