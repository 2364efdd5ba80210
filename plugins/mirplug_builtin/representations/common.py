"""Checks and conversions shared by the spectral representations."""

from __future__ import annotations

from mirplug.errors import ConfigError


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
