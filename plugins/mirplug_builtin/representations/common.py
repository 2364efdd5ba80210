"""Checks and conversions shared by the spectral representations."""

from __future__ import annotations

import torch

from mirplug import ConfigError


def hop_samples(sample_rate: int, hop_length_ms: float, n_fft: int | None = None) -> int:
    """The hop in samples; a hop that rounds to zero or exceeds the FFT size (when given) is refused."""
    hop = round(sample_rate * hop_length_ms / 1000.0)
    if hop < 1:
        raise ConfigError(
            f"representation.hop_length_ms={hop_length_ms} is under one sample at {sample_rate} Hz; "
            f"use at least {1000.0 / sample_rate:.3f}"
        )
    if n_fft is not None and hop > n_fft:
        raise ConfigError(
            f"representation.hop_length_ms={hop_length_ms} ({hop} samples) exceeds n_fft={n_fft}: frames "
            f"would skip audio; use at most {1000.0 * n_fft / sample_rate:g} ms"
        )
    return hop


def check_band(sample_rate: int, f_min: float, f_max: float | None) -> float:
    """The upper band edge; anything above Nyquist or below ``f_min`` is refused."""
    nyquist = sample_rate / 2
    top = nyquist if f_max is None else f_max
    if top > nyquist:
        raise ConfigError(f"representation.f_max={f_max} is above Nyquist ({nyquist:g} Hz at {sample_rate} Hz)")
    if f_min >= top:
        raise ConfigError(f"representation.f_min={f_min} must be below f_max={top:g}")
    return top


def reflect_pad(waveform: torch.Tensor, pad: int) -> torch.Tensor:
    """``(..., time)`` -> ``(..., pad + time + pad)``, mirrored at both ends without repeating the edge sample.

    The same values as ``torch.nn.functional.pad(..., mode="reflect")`` (what ``torch.stft``
    uses with ``center=True``), but one concatenation: about 5x faster on the CPU.
    """
    if pad >= waveform.shape[-1]:
        raise ValueError(f"reflect padding of {pad} samples needs more than {pad} samples, got {waveform.shape[-1]}")
    if pad == 0:
        return waveform
    return torch.cat([waveform[..., 1:pad + 1].flip(-1), waveform, waveform[..., -pad - 1:-1].flip(-1)], dim=-1)


def power_frames(waveform: torch.Tensor, n_fft: int, hop: int, window: torch.Tensor) -> torch.Tensor:
    """Power spectrum of centred frames: ``(..., time)`` -> ``(..., frames, n_fft // 2 + 1)``.

    The values of ``torch.stft(..., center=True, pad_mode="reflect")`` squared (torchaudio's
    ``Spectrogram(power=2)``), frame-major so that a filter bank is one ``matmul``. Framing
    with ``unfold`` + ``rfft`` and the power as ``re² + im²`` make a 64-band log-mel about twice
    as fast on the CPU as torchaudio's ``MelSpectrogram`` (``benchmarks/representations.py``).
    """
    frames = reflect_pad(waveform, n_fft // 2).unfold(-1, n_fft, hop) * window
    parts = torch.view_as_real(torch.fft.rfft(frames))
    return parts[..., 0].square() + parts[..., 1].square()
