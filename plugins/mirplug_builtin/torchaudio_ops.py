"""Every use of torchaudio by the built-in plugins, behind thin functions.

torchaudio is a compiled extension built against one torch release, and its releases stop at 2.11. Keeping
all of its uses here means that moving torch past 2.11 only needs these few functions reimplemented in
plain torch (each is a filterbank, a matrix or a small ``nn.Module``), not edits across the plugins.

torchaudio is imported at module level on purpose: a component module that imports this one then fails
at import, where :meth:`mirplug.specs.ComponentSpec.load_factory` diagnoses a broken torch/torchaudio pair
(:mod:`mirplug.environment`). Import this module only where torch is needed anyway.
"""

from __future__ import annotations

import torch
import torchaudio
from torch import nn


def mel_filterbank(n_freqs: int, f_min: float, f_max: float, n_mels: int, sample_rate: int,
                   norm: str | None = None, mel_scale: str = "htk") -> torch.Tensor:
    """Triangular mel filters ``(n_freqs, n_mels)`` (``torchaudio.functional.melscale_fbanks``).

    ``norm="slaney"`` scales each filter to unit area; ``mel_scale`` is ``"htk"`` or ``"slaney"``
    (``norm="slaney", mel_scale="slaney"`` are librosa's defaults).
    """
    return torchaudio.functional.melscale_fbanks(n_freqs, f_min, f_max, n_mels, sample_rate, norm=norm,
                                                 mel_scale=mel_scale)


def dct_matrix(n_coefficients: int, n_mels: int, norm: str | None = "ortho") -> torch.Tensor:
    """DCT-II matrix ``(n_mels, n_coefficients)`` (``torchaudio.functional.create_dct``)."""
    return torchaudio.functional.create_dct(n_coefficients, n_mels, norm)


def mel_spectrogram(sample_rate: int, n_fft: int, hop_length: int, n_mels: int, f_min: float = 0.0,
                    power: float = 2.0) -> nn.Module:
    """A module ``(..., time)`` -> power mel ``(..., n_mels, frames)``
    (``torchaudio.transforms.MelSpectrogram``: Hann window, centred reflect-padded frames, HTK mel scale,
    no filter normalisation)."""
    return torchaudio.transforms.MelSpectrogram(sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length,
                                                n_mels=n_mels, f_min=f_min, power=power)


def inverse_mel_scale(n_stft: int, n_mels: int, sample_rate: int, f_min: float = 0.0) -> nn.Module:
    """A module mel ``(..., n_mels, frames)`` -> linear spectrogram ``(..., n_stft, frames)`` by least
    squares (``torchaudio.transforms.InverseMelScale``)."""
    return torchaudio.transforms.InverseMelScale(n_stft=n_stft, n_mels=n_mels, sample_rate=sample_rate,
                                                 f_min=f_min)


def griffin_lim(n_fft: int, hop_length: int, power: float, n_iter: int) -> nn.Module:
    """A module spectrogram ``(..., n_fft // 2 + 1, frames)`` -> waveform ``(..., time)`` (Griffin-Lim phase
    reconstruction, ``torchaudio.transforms.GriffinLim``; its random phase start uses torch's global
    generator)."""
    return torchaudio.transforms.GriffinLim(n_fft=n_fft, hop_length=hop_length, power=power, n_iter=n_iter)


def resample(waveform: torch.Tensor, from_rate: int, to_rate: int) -> torch.Tensor:
    """Band-limited resampling ``(..., time)`` (``torchaudio.functional.resample``, windowed sinc)."""
    return torchaudio.functional.resample(waveform, from_rate, to_rate)
