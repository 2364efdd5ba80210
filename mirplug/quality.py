"""Quality measures of synthetic examples against real ones.

Pure functions over arrays: the Fréchet distance between two sets of embeddings (the
measure behind FID and FAD, Kilgour et al. 2019), per class, and a picture of real
and synthetic mel spectrograms side by side. numpy/scipy/matplotlib are imported lazily.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mirplug.errors import DataError

# Added to both covariances' diagonals: with fewer examples than dimensions a sample
# covariance is singular and its matrix square root unstable.
COVARIANCE_EPSILON = 1e-6


# The log-mel every generator's quality report uses unless it brings its own (Generator.log_mel).
LOG_MEL_BANDS, LOG_MEL_FFT, LOG_MEL_HOP, LOG_MEL_FLOOR_DB = 64, 1024, 256, -100.0


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> Any:
    """Triangular filters on the HTK mel scale, 0 Hz to Nyquist: ``(n_mels, n_fft // 2 + 1)`` float32 tensor."""
    import torch

    def mel(hz: Any) -> Any:
        return 2595.0 * torch.log10(1.0 + hz / 700.0)

    bins = torch.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1, dtype=torch.float64)
    edges = 700.0 * (10.0 ** (torch.linspace(0.0, float(mel(torch.tensor(sample_rate / 2.0))), n_mels + 2,
                                             dtype=torch.float64) / 2595.0) - 1.0)
    low, centre, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None] - low) / (centre - low)
    falling = (high - bins[None]) / (high - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0.0).to(torch.float32)


def log_mel(waves: Any, sample_rate: int, n_mels: int = LOG_MEL_BANDS) -> Any:
    """``(n, time)`` waveforms -> power log-mel in dB ``(n, n_mels, frames)`` (floor -100 dB), in plain torch.

    The default of :meth:`mirplug.Generator.log_mel`: 1024-sample FFT, 256-sample hop, centred
    frames, HTK mel bands from 0 Hz to Nyquist.
    """
    import torch

    waves = torch.as_tensor(waves, dtype=torch.float32)
    if waves.dim() != 2:
        raise DataError(f"log_mel: expected waveforms (n, time), got shape {tuple(waves.shape)}")
    n_fft = LOG_MEL_FFT
    if waves.shape[1] <= n_fft // 2:  # reflect padding needs more samples than half the FFT
        waves = torch.nn.functional.pad(waves, (0, n_fft // 2 + 1 - waves.shape[1]))
    with torch.no_grad():
        spectrum = torch.stft(waves, n_fft, LOG_MEL_HOP, window=torch.hann_window(n_fft), center=True,
                              return_complex=True).abs().pow(2)
        power = torch.einsum("mf,nft->nmt", mel_filterbank(sample_rate, n_fft, n_mels), spectrum)
        return (10.0 * torch.log10(power.clamp_min(1e-10))).clamp_min(LOG_MEL_FLOOR_DB)


def frechet_distance(real: Any, synthetic: Any, epsilon: float = COVARIANCE_EPSILON) -> float:
    """Fréchet distance between Gaussians fitted to ``real (n, d)`` and ``synthetic (m, d)``.

    ``|mu_r - mu_s|^2 + tr(C_r + C_s - 2 (C_r C_s)^(1/2))``, with ``epsilon`` on the
    covariance diagonals so small sets (n <= d) still give a finite value. Needs at
    least two examples per set.
    """
    import numpy as np
    from scipy import linalg

    a, b = np.asarray(real, dtype=np.float64), np.asarray(synthetic, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise DataError(f"frechet_distance: expected (n, d) and (m, d) embeddings, got {a.shape} and {b.shape}")
    if a.shape[0] < 2 or b.shape[0] < 2:
        raise DataError(f"frechet_distance: needs at least 2 examples per set, got {a.shape[0]} real and "
                        f"{b.shape[0]} synthetic")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise DataError("frechet_distance: the embeddings contain NaN or inf")
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    ridge = epsilon * np.eye(a.shape[1])
    cov_a = np.atleast_2d(np.cov(a, rowvar=False)) + ridge
    cov_b = np.atleast_2d(np.cov(b, rowvar=False)) + ridge
    root = linalg.sqrtm(cov_a @ cov_b)
    # sqrtm returns tiny imaginary parts from rounding; the true root of a product of
    # two positive definite matrices has real eigenvalues.
    root = np.real(root)
    distance = float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(root))
    return max(distance, 0.0)


def frechet_distance_per_class(real: Any, real_labels: Any, synthetic: Any, synthetic_labels: Any,
                               label_names: Sequence[str]) -> dict[str, float | None]:
    """The Fréchet distance of each class's synthetic embeddings to its real ones.

    A class with fewer than two real or synthetic examples maps to ``None`` (not measurable).
    """
    import numpy as np

    a, b = np.asarray(real), np.asarray(synthetic)
    ya, yb = np.asarray(real_labels), np.asarray(synthetic_labels)
    result: dict[str, float | None] = {}
    for index, name in enumerate(label_names):
        ra, rb = a[ya == index], b[yb == index]
        result[str(name)] = frechet_distance(ra, rb) if len(ra) >= 2 and len(rb) >= 2 else None
    return result


def spectrogram_grid(real_mels: Any, real_labels: Any, synthetic_mels: Any, synthetic_labels: Any,
                     label_names: Sequence[str], path: str | Path, per_class: int = 3) -> Path:
    """Write a PNG: one row per class, ``per_class`` real then ``per_class`` synthetic mel spectrograms.

    Mels are ``(n, n_mels, frames)`` in dB; all panels share one colour scale so real and
    synthetic levels compare. A class without examples of a kind leaves those panels blank.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    real, synth = np.asarray(real_mels, dtype=np.float32), np.asarray(synthetic_mels, dtype=np.float32)
    ya, yb = np.asarray(real_labels), np.asarray(synthetic_labels)
    if real.ndim != 3 or synth.ndim != 3:
        raise DataError(f"spectrogram_grid: expected (n, n_mels, frames) mels, got {real.shape} and {synth.shape}")
    both = np.concatenate([real.ravel(), synth.ravel()])
    vmin, vmax = (float(np.percentile(both, 1)), float(np.max(both))) if both.size else (0.0, 1.0)
    rows, cols = len(label_names), 2 * per_class
    figure, axes = plt.subplots(rows, cols, figsize=(1.8 * cols, 1.5 * rows), squeeze=False)
    for row, name in enumerate(label_names):
        for kind, mels, labels in ((0, real, ya), (1, synth, yb)):
            chosen = mels[labels == row][:per_class]
            for k in range(per_class):
                axis = axes[row][kind * per_class + k]
                axis.set_xticks([])
                axis.set_yticks([])
                if k < len(chosen):
                    axis.imshow(chosen[k], origin="lower", aspect="auto", vmin=vmin, vmax=vmax, cmap="magma")
                else:
                    axis.axis("off")
                if row == 0:
                    axis.set_title(f"{'real' if kind == 0 else 'synthetic'} {k + 1}", fontsize=8)
        axes[row][0].set_ylabel(str(name), fontsize=8)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path
