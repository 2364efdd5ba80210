"""Representation ``stft``: log-magnitude short-time Fourier transform."""

from __future__ import annotations

import torch
import torchaudio

from mirplug.components import Representation
from mirplug_builtin.representations.common import hop_samples


class LogSTFT(Representation):
    """``(batch, time)`` -> ``(batch, n_fft // 2 + 1, frames)``, ``log(1e-5 + |X|)``."""

    def __init__(self, sample_rate: int = 16000, n_fft: int = 512, hop_length_ms: float = 20.0) -> None:
        super().__init__()
        hop = hop_samples(sample_rate, hop_length_ms, n_fft)
        self.sample_rate = sample_rate
        self.frame_rate = sample_rate / hop
        self.frame_samples = n_fft  # shorter clips are skipped (mirplug.cache.min_samples_of)
        self.spectrogram = torchaudio.transforms.Spectrogram(n_fft=n_fft, hop_length=hop, power=1.0)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return torch.log(self.spectrogram(waveform) + 1e-5)
