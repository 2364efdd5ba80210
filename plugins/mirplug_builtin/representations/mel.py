"""Representation ``mel``: log-mel spectrogram in dB."""

from __future__ import annotations

import torch

from mirplug import Representation
from mirplug_builtin.representations.common import check_band, hop_samples, power_frames
from mirplug_builtin.torchaudio_ops import mel_filterbank


class LogMel(Representation):
    """``(batch, time)`` -> ``(batch, n_mels, frames)``, power mel in dB (floor -100 dB).

    The values of torchaudio's ``MelSpectrogram`` (Hann window, centred reflect-padded frames,
    Slaney mel scale and area normalisation, as librosa) in dB, computed by
    :func:`~mirplug_builtin.representations.common.power_frames` (about twice as fast).
    """

    thread_safe = True  # pure torch; forward changes no state

    def __init__(self, sample_rate: int = 16000, n_fft: int = 512, hop_length_ms: float = 20.0, n_mels: int = 64,
                 f_min: float = 0.0, f_max: float | None = None) -> None:
        super().__init__()
        self.hop = hop_samples(sample_rate, hop_length_ms, n_fft)
        top = check_band(sample_rate, f_min, f_max)
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.frame_rate = sample_rate / self.hop
        self.frame_samples = n_fft  # shorter clips are skipped (Representation.frame_samples)
        filterbank = mel_filterbank(n_fft // 2 + 1, f_min, top, n_mels, sample_rate, norm="slaney",
                                    mel_scale="slaney")
        self.register_buffer("filterbank", filterbank, persistent=False)  # (n_fft // 2 + 1, n_mels)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def power_mel(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(..., time)`` -> power mel ``(..., frames, n_mels)`` (frame-major)."""
        return torch.matmul(power_frames(waveform, self.n_fft, self.hop, self.window), self.filterbank)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return (10.0 * torch.log10(self.power_mel(waveform) + 1e-10)).transpose(-1, -2)
