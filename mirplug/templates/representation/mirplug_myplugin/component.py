"""Representation 'myplugin': log energy in ``n_bands`` equal-width frequency bands."""

from __future__ import annotations

import itertools

import torch

from mirplug import Representation


class BandEnergy(Representation):
    """``(batch, time)`` -> ``(batch, n_bands, frames)``: log10 of the mean power per band and frame."""

    thread_safe = True  # pure torch, forward changes no state: clips may be featurized in decoding threads

    def __init__(self, sample_rate: int = 16000, n_bands: int = 16, hop_length_ms: float = 20.0) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.hop = max(1, round(sample_rate * hop_length_ms / 1000.0))
        self.n_fft = 4 * self.hop
        self.frame_samples = self.n_fft  # shorter clips are skipped, not analysed
        self.n_bands = n_bands
        self.frame_rate = sample_rate / self.hop
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        spectrum = torch.stft(waveform, self.n_fft, self.hop, window=self.window, return_complex=True)
        power = spectrum.abs().pow(2)  # (batch, bins, frames)
        edges = torch.linspace(0, power.shape[1], self.n_bands + 1).round().long().tolist()
        bands = [power[:, lo:max(hi, lo + 1)].mean(dim=1) for lo, hi in itertools.pairwise(edges)]
        return torch.log10(torch.stack(bands, dim=1) + 1e-10)
