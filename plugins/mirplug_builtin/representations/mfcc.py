"""Representation ``mfcc``: mel-frequency cepstral coefficients."""

from __future__ import annotations

import torch
import torchaudio

from mirplug.components import Representation
from mirplug.errors import ConfigError
from mirplug_builtin.representations.common import hop_samples


class MFCC(Representation):
    """``(batch, time)`` -> ``(batch, n_mfcc, frames)`` (DCT-II of the log-mel, ortho)."""

    def __init__(self, sample_rate: int = 16000, n_fft: int = 512, hop_length_ms: float = 20.0, n_mfcc: int = 20,
                 n_mels: int = 64) -> None:
        super().__init__()
        if n_mfcc > n_mels:
            raise ConfigError(f"representation.n_mfcc={n_mfcc} exceeds n_mels={n_mels}; use at most {n_mels}")
        hop = hop_samples(sample_rate, hop_length_ms, n_fft)
        self.sample_rate = sample_rate
        self.frame_rate = sample_rate / hop
        self.frame_samples = n_fft  # shorter clips are skipped (mirplug.cache.min_samples_of)
        self.mfcc = torchaudio.transforms.MFCC(
            sample_rate=sample_rate, n_mfcc=n_mfcc, log_mels=False,
            melkwargs={"n_fft": n_fft, "hop_length": hop, "n_mels": n_mels, "norm": "slaney", "mel_scale": "slaney"},
        )

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.mfcc(waveform)
