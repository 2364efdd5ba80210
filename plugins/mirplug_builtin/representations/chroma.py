"""Representation ``chroma``: 12 pitch classes folded from the constant-Q magnitude."""

from __future__ import annotations

import math

import torch

from mirplug import ConfigError, Representation
from mirplug_builtin.representations.cqt import CQT

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def pitch_class(frequency: float) -> int:
    """The pitch class (0 = C) of the nearest equal-tempered semitone (A4 = 440 Hz)."""
    midi = 69.0 + 12.0 * math.log2(frequency / 440.0)
    return int(round(midi)) % 12


class Chroma(Representation):
    """``(batch, time)`` -> ``(batch, 12, frames)``, rows C, C#, ..., B.

    Each CQT bin adds its linear magnitude to the pitch class of its nearest semitone (as
    ``librosa.feature.chroma_cqt``). With ``normalize=True`` every frame is divided by its
    largest class (max norm), so the loudest class reads 1.
    """

    thread_safe = True  # pure torch; forward changes no state

    def __init__(self, sample_rate: int = 16000, hop_length_ms: float = 20.0, f_min: float = 32.70,
                 n_bins: int = 84, bins_per_octave: int = 12, normalize: bool = True) -> None:
        super().__init__()
        if bins_per_octave % 12:
            raise ConfigError(
                f"representation.bins_per_octave={bins_per_octave} does not fold onto 12 pitch classes; "
                f"use a multiple of 12 (12, 24, 36)"
            )
        self.cqt = CQT(sample_rate=sample_rate, hop_length_ms=hop_length_ms, f_min=f_min, n_bins=n_bins,
                       bins_per_octave=bins_per_octave, log=False)
        self.sample_rate = sample_rate
        self.frame_rate = self.cqt.frame_rate
        self.frame_samples = self.cqt.frame_samples  # shorter clips are skipped, as for the CQT
        self.normalize = normalize
        fold = torch.zeros(12, n_bins)
        for index, frequency in enumerate(self.cqt.frequencies.tolist()):
            fold[pitch_class(frequency), index] = 1.0
        self.register_buffer("fold", fold, persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        chroma = torch.einsum("cb,nbt->nct", self.fold, self.cqt.magnitude(waveform))
        if self.normalize:
            chroma = chroma / chroma.amax(dim=1, keepdim=True).clamp_min(1e-8)
        return chroma
