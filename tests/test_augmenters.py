"""Each augmenter with fixed parameters gives an exact expected output."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mirplug.errors import ConfigError
from mirplug_builtin.augmenters.gain import Gain
from mirplug_builtin.augmenters.noise import Noise
from mirplug_builtin.augmenters.specaugment import SpecAugment
from mirplug_builtin.augmenters.timeshift import TimeShift


def test_gain_of_minus_six_db_halves_the_signal():
    out = Gain().apply(torch.tensor([1.0, -0.5, 0.25]), {"gain_db": -6.0206})
    torch.testing.assert_close(out, torch.tensor([0.5, -0.25, 0.125]), atol=1e-4, rtol=0)


def test_gain_draws_within_its_range():
    gain = Gain(p=1.0, min_gain_db=-3.0, max_gain_db=3.0)
    draws = [gain.sample_parameters(torch.zeros(4), np.random.default_rng(i))["gain_db"] for i in range(50)]
    assert min(draws) >= -3.0 and max(draws) <= 3.0 and max(draws) - min(draws) > 3.0


def test_gain_range_must_be_ordered():
    with pytest.raises(ConfigError, match="min_gain_db=6.0 exceeds max_gain_db=0.0"):
        Gain(min_gain_db=6.0, max_gain_db=0.0)


def test_noise_reaches_the_requested_snr():
    signal = torch.sin(torch.linspace(0, 400, 16000))
    out = Noise().apply(signal, {"snr_db": 20.0, "noise_seed": 3})
    snr = 10 * torch.log10(signal.pow(2).mean() / (out - signal).pow(2).mean())
    assert abs(float(snr) - 20.0) < 0.3


def test_timeshift_rolls_or_pads():
    example = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert TimeShift(rollover=True).apply(example, {"shift_samples": 1}).tolist() == [4.0, 1.0, 2.0, 3.0]
    assert TimeShift(rollover=False).apply(example, {"shift_samples": 1}).tolist() == [0.0, 1.0, 2.0, 3.0]
    assert TimeShift(rollover=False).apply(example, {"shift_samples": -2}).tolist() == [3.0, 4.0, 0.0, 0.0]


def test_specaugment_masks_the_given_bands_and_spans_with_the_mean():
    example = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    out = SpecAugment().apply(example, {"freq": [[1, 1]], "time": [[3, 1]]})
    mean = 5.5
    assert out.tolist() == [[0.0, 1.0, 2.0, mean], [mean, mean, mean, mean], [8.0, 9.0, 10.0, mean]]


def test_probability_outside_the_unit_interval_is_refused():
    with pytest.raises(ConfigError, match="p=1.5 must lie in"):
        Gain(p=1.5)
