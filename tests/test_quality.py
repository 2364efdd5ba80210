"""Quality helpers: Fréchet distance and the real/synthetic spectrogram grid."""

from __future__ import annotations

import numpy as np
import pytest

from mirplug.errors import DataError
from mirplug.quality import frechet_distance, frechet_distance_per_class, spectrogram_grid


def test_frechet_distance_of_a_set_with_itself_is_zero():
    points = np.random.default_rng(0).normal(size=(200, 8))
    assert frechet_distance(points, points) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_of_shifted_gaussians_is_the_squared_mean_difference():
    # Identical covariances: the trace term vanishes and the distance is |mu_a - mu_b|^2.
    points = np.random.default_rng(1).normal(size=(500, 4))
    shift = np.array([1.0, -2.0, 0.5, 0.0])
    assert frechet_distance(points, points + shift) == pytest.approx(float(shift @ shift), rel=1e-6)


def test_frechet_distance_closed_form_for_scaled_gaussians():
    # Same mean, covariances I and s^2 I in d dimensions: d * (1 - s)^2 for the sample covariances' ratio.
    points = np.random.default_rng(2).normal(size=(300, 3))
    centred = points - points.mean(axis=0)
    cov = np.cov(centred, rowvar=False)
    expected = float(np.trace(cov) * (1 - 3.0) ** 2)  # C + 9C - 2*3C = 4C
    assert frechet_distance(centred, 3.0 * centred) == pytest.approx(expected, rel=1e-5)


def test_frechet_distance_small_sets_stay_finite_and_bad_input_is_refused():
    rng = np.random.default_rng(3)
    few = frechet_distance(rng.normal(size=(3, 16)), rng.normal(size=(4, 16)))
    assert np.isfinite(few) and few > 0
    with pytest.raises(DataError, match="at least 2 examples per set, got 1 real and 4 synthetic"):
        frechet_distance(rng.normal(size=(1, 16)), rng.normal(size=(4, 16)))
    with pytest.raises(DataError, match=r"expected \(n, d\) and \(m, d\) embeddings, got \(3, 16\) and \(4, 8\)"):
        frechet_distance(rng.normal(size=(3, 16)), rng.normal(size=(4, 8)))
    with pytest.raises(DataError, match="NaN or inf"):
        frechet_distance(np.full((3, 2), np.nan), rng.normal(size=(4, 2)))


def test_frechet_distance_per_class():
    rng = np.random.default_rng(4)
    real = rng.normal(size=(400, 2))
    labels = np.repeat([0, 1], 200)
    synthetic = real.copy()
    synthetic[labels == 1] += np.array([3.0, 4.0])  # class b is off by 5
    result = frechet_distance_per_class(real, labels, synthetic[:-199], labels[:-199], ["a", "b", "c"])
    assert result["a"] == pytest.approx(0.0, abs=1e-6)
    assert result["c"] is None  # no examples of c at all
    full = frechet_distance_per_class(real, labels, synthetic, labels, ["a", "b"])
    assert full["b"] == pytest.approx(25.0, rel=1e-6)
    assert frechet_distance_per_class(real, labels, synthetic[:201], labels[:201], ["a", "b"])["b"] is None


def test_spectrogram_grid_writes_a_png(tmp_path):
    rng = np.random.default_rng(5)
    real, synthetic = rng.normal(size=(6, 64, 63)) - 40, rng.normal(size=(4, 64, 63)) - 40
    path = spectrogram_grid(real, [0, 0, 0, 1, 1, 1], synthetic, [0, 1, 1, 1], ["rock", "jazz"],
                            tmp_path / "plots" / "grid.png", per_class=2)
    assert path == tmp_path / "plots" / "grid.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    height, width = matplotlib.image.imread(path).shape[:2]
    assert (width, height) == (int(1.8 * 4 * 80), int(1.5 * 2 * 80))
    with pytest.raises(DataError, match="expected \\(n, n_mels, frames\\) mels"):
        spectrogram_grid(real[0], [0], synthetic, [0, 1, 1, 1], ["rock", "jazz"], tmp_path / "bad.png")
