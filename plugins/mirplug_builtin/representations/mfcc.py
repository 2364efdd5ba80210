"""Representation ``mfcc``: mel-frequency cepstral coefficients."""

from __future__ import annotations

import torch

from mirplug import ConfigError, Representation
from mirplug_builtin.representations.mel import LogMel
from mirplug_builtin.torchaudio_ops import dct_matrix

TOP_DB = 80.0  # torchaudio's MFCC (and librosa's power_to_db) default


class MFCC(Representation):
    """``(batch, time)`` -> ``(batch, n_mfcc, frames)``: DCT-II (ortho) of the log-mel.

    torchaudio's ``MFCC`` (``log_mels=False``): the mel power in dB, floored ``TOP_DB`` below
    its maximum, then the DCT. The floor is taken per clip; torchaudio takes it over the whole
    batch, so a quiet clip's coefficients there depend on the clips batched with it.
    """

    thread_safe = True  # pure torch; forward changes no state
    revision = 1  # 1: the dB floor is taken per clip, no longer over the batch (features cached before differ)

    def __init__(self, sample_rate: int = 16000, n_fft: int = 512, hop_length_ms: float = 20.0, n_mfcc: int = 20,
                 n_mels: int = 64) -> None:
        super().__init__()
        if n_mfcc > n_mels:
            raise ConfigError(f"representation.n_mfcc={n_mfcc} exceeds n_mels={n_mels}; use at most {n_mels}")
        self.mel = LogMel(sample_rate=sample_rate, n_fft=n_fft, hop_length_ms=hop_length_ms, n_mels=n_mels)
        self.sample_rate = sample_rate
        self.frame_rate = self.mel.frame_rate
        self.frame_samples = n_fft  # shorter clips are skipped (Representation.frame_samples)
        self.register_buffer("dct", dct_matrix(n_mfcc, n_mels, "ortho"), persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        decibels = 10.0 * torch.log10(self.mel.power_mel(waveform).clamp_min(1e-10))  # (..., frames, n_mels)
        floor = decibels.amax(dim=(-2, -1), keepdim=True) - TOP_DB
        return torch.matmul(torch.maximum(decibels, floor), self.dct).transpose(-1, -2)
