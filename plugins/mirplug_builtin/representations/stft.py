"""Representation ``stft``: log-magnitude short-time Fourier transform."""

from __future__ import annotations

import torch

from mirplug import Representation
from mirplug_builtin.representations.common import hop_samples, power_frames


class LogSTFT(Representation):
    """``(batch, time)`` -> ``(batch, n_fft // 2 + 1, frames)``, ``log(1e-5 + |X|)``.

    ``|X|`` is torchaudio's ``Spectrogram(power=1)`` (Hann window, centred reflect-padded frames).
    """

    thread_safe = True  # pure torch; forward changes no state

    def __init__(self, sample_rate: int = 16000, n_fft: int = 512, hop_length_ms: float = 20.0) -> None:
        super().__init__()
        self.hop = hop_samples(sample_rate, hop_length_ms, n_fft)
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.frame_rate = sample_rate / self.hop
        self.frame_samples = n_fft  # shorter clips are skipped (Representation.frame_samples)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        magnitude = power_frames(waveform, self.n_fft, self.hop, self.window).sqrt()
        return torch.log(magnitude + 1e-5).transpose(-1, -2)
