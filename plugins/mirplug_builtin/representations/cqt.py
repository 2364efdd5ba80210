"""Representation ``cqt``: constant-Q transform, batched in torch.

torchaudio has no CQT. This is the direct (Brown, 1991) transform: one complex Hann-windowed
kernel per bin whose length is ``Q * sample_rate / f``, applied with a strided ``conv1d`` so a
whole batch is one call on CPU or GPU. Bins are grouped per octave so each group's kernels are
only as long as that octave's lowest bin needs (the top octave costs 1/2**k of the bottom one).
The bandwidth follows librosa (``Q = 1 / alpha`` with ``alpha = (r**2 - 1) / (r**2 + 1)``,
``r = 2 ** (1 / bins_per_octave)``) so the output matches ``librosa.cqt`` up to its multirate
resampling; kernels are L1-normalised, so a sine of amplitude A reads A / 2 at its bin in every
octave (``librosa.cqt`` with its default ``scale=True`` reads that times ``sqrt(filter length)``).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from mirplug import ConfigError, Representation
from mirplug_builtin.representations.common import hop_samples

LOG_FLOOR = 1e-5


def cqt_alpha(bins_per_octave: int) -> float:
    """Relative bandwidth of one bin (librosa's definition for a constant-Q filter bank)."""
    ratio = 2.0 ** (2.0 / bins_per_octave)
    return (ratio - 1.0) / (ratio + 1.0)


def max_bins(sample_rate: int, f_min: float, bins_per_octave: int) -> int:
    """The most bins whose upper band edge stays at or below Nyquist."""
    nyquist = sample_rate / 2.0
    edge = 1.0 + cqt_alpha(bins_per_octave) / 2.0
    if f_min * edge > nyquist:
        return 0
    return int(math.floor(bins_per_octave * math.log2(nyquist / (f_min * edge)) + 1e-9)) + 1


def check_cqt(sample_rate: int, hop_length_ms: float, f_min: float, n_bins: int, bins_per_octave: int) -> int:
    """Validate the settings; return the hop in samples. Errors state the limit."""
    hop = hop_samples(sample_rate, hop_length_ms)
    if f_min <= 0:
        raise ConfigError(f"representation.f_min={f_min} must be above 0 Hz")
    if bins_per_octave < 1 or n_bins < 1:
        raise ConfigError(
            f"representation.n_bins={n_bins} and bins_per_octave={bins_per_octave} must both be at least 1"
        )
    limit = max_bins(sample_rate, f_min, bins_per_octave)
    if n_bins > limit:
        top = f_min * 2.0 ** ((n_bins - 1) / bins_per_octave)
        raise ConfigError(
            f"representation.n_bins={n_bins} puts the top bin at {top:.1f} Hz, above Nyquist "
            f"({sample_rate / 2:g} Hz at {sample_rate} Hz); use at most n_bins={limit} from f_min={f_min:g} "
            f"at {bins_per_octave} bins per octave, or raise the sample rate"
        )
    return hop


class CQT(Representation):
    """``(batch, time)`` -> ``(batch, n_bins, frames)``; magnitude in dB (``log=True``) or linear.

    Frames are centred at ``t * hop`` like torchaudio's spectrograms (``1 + time // hop``
    frames); the signal is zero-padded at both ends.
    """

    thread_safe = True  # pure torch; forward changes no state

    def __init__(self, sample_rate: int = 16000, hop_length_ms: float = 20.0, f_min: float = 32.70,
                 n_bins: int = 84, bins_per_octave: int = 12, log: bool = True) -> None:
        super().__init__()
        self.hop = check_cqt(sample_rate, hop_length_ms, f_min, n_bins, bins_per_octave)
        self.sample_rate = sample_rate
        self.frame_rate = sample_rate / self.hop
        self.frame_samples = self.hop  # shorter clips are skipped (Representation.frame_samples)
        self.log = log
        self.n_bins = n_bins
        self.frequencies = f_min * 2.0 ** (torch.arange(n_bins, dtype=torch.float64) / bins_per_octave)
        q = 1.0 / cqt_alpha(bins_per_octave)
        self.groups: list[tuple[int, int]] = []  # (first bin, kernel length) per octave group
        for index, start in enumerate(range(0, n_bins, bins_per_octave)):
            stop = min(start + bins_per_octave, n_bins)
            freqs = self.frequencies[start:stop]
            lengths = torch.ceil(q * sample_rate / freqs).long()
            longest = int(lengths.max()) | 1  # odd, so every group yields the same frame count
            kernels = torch.zeros(2 * len(freqs), 1, longest, dtype=torch.float64)
            for row, (freq, length) in enumerate(zip(freqs.tolist(), lengths.tolist())):
                n = torch.arange(length, dtype=torch.float64) - (length - 1) / 2.0
                window = torch.hann_window(length, periodic=False, dtype=torch.float64)
                window = window / window.sum()
                phase = 2.0 * math.pi * freq * n / sample_rate
                offset = (longest - length) // 2
                # conv1d is a correlation, so these are the analysis kernels as-is.
                kernels[row, 0, offset:offset + length] = window * torch.cos(phase)
                kernels[len(freqs) + row, 0, offset:offset + length] = -window * torch.sin(phase)
            self.register_buffer(f"kernels_{index}", kernels.float(), persistent=False)
            self.groups.append((start, longest))

    def magnitude(self, waveform: torch.Tensor) -> torch.Tensor:
        """Linear CQT magnitude ``(batch, n_bins, frames)``."""
        signal = waveform.unsqueeze(1)
        parts = []
        for index, (_, longest) in enumerate(self.groups):
            kernels = getattr(self, f"kernels_{index}")
            half = longest // 2
            padded = F.pad(signal, (half, half + 1))
            out = F.conv1d(padded, kernels, stride=self.hop)
            real, imag = out.chunk(2, dim=1)
            parts.append(torch.sqrt(real * real + imag * imag))
        return torch.cat(parts, dim=1)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        magnitude = self.magnitude(waveform)
        return 20.0 * torch.log10(magnitude + LOG_FLOOR) if self.log else magnitude
