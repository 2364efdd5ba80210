"""Representation ``mel``: log-mel spectrogram in dB."""

from __future__ import annotations

import torch
import torchaudio

from mirplug.components import Representation
from mirplug_builtin.representations.common import check_band, hop_samples


class LogMel(Representation):
    """``(batch, time)`` -> ``(batch, n_mels, frames)``, power mel in dB (floor -100 dB)."""

    def __init__(self, sample_rate: int = 16000, n_fft: int = 512, hop_length_ms: float = 20.0, n_mels: int = 64,
                 f_min: float = 0.0, f_max: float | None = None) -> None:
        super().__init__()
        hop = hop_samples(sample_rate, hop_length_ms, n_fft)
        top = check_band(sample_rate, f_min, f_max)
        self.sample_rate = sample_rate
        self.frame_rate = sample_rate / hop
        self.frame_samples = n_fft  # shorter clips are skipped (mirplug.cache.min_samples_of)
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate, n_fft=n_fft, hop_length=hop, n_mels=n_mels, f_min=f_min, f_max=top,
            norm="slaney", mel_scale="slaney",
        )

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return 10.0 * torch.log10(self.mel(waveform) + 1e-10)
