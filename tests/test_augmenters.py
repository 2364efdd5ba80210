"""Each augmenter with fixed parameters gives an exact expected output; the torch-audiomentations
wrappers are seeded, recorded and leave the global random streams alone."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from mirplug.errors import ConfigError
from mirplug_builtin.augmenters.noise import Noise
from mirplug_builtin.augmenters.specaugment import SpecAugment
from mirplug_builtin.augmenters.waveform import (
    BandPass,
    ColoredNoise,
    Gain,
    HighPass,
    ImpulseResponse,
    LowPass,
    PitchShift,
    PolarityInversion,
    Shift,
    Wrapped,
)

RATE = 16000


def prepared(transform: Wrapped) -> Wrapped:
    transform.prepare(RATE)
    return transform


def sine(freq: float, seconds: float = 1.0) -> torch.Tensor:
    time = torch.arange(int(seconds * RATE), dtype=torch.float64) / RATE
    return (0.5 * torch.sin(2 * torch.pi * freq * time)).float()


def rms(x: torch.Tensor) -> float:
    return float(x.pow(2).mean().sqrt())


def peak_hz(x: torch.Tensor) -> float:
    spectrum = torch.fft.rfft(x * torch.hann_window(len(x)))
    return float(spectrum.abs().argmax()) * RATE / len(x)


def test_gain_of_minus_six_db_halves_the_signal():
    out = prepared(Gain()).apply(torch.tensor([1.0, -0.5, 0.25]), {"gain_db": -6.0206})
    torch.testing.assert_close(out, torch.tensor([0.5, -0.25, 0.125]), atol=1e-4, rtol=0)


def test_gain_draws_within_its_range():
    gain = prepared(Gain(p=1.0, min_gain_db=-3.0, max_gain_db=3.0))
    draws = [gain.sample_parameters(torch.zeros(4), np.random.default_rng(i))["gain_db"] for i in range(50)]
    assert min(draws) >= -3.0 and max(draws) <= 3.0 and max(draws) - min(draws) > 3.0


def test_gain_range_must_be_ordered():
    with pytest.raises(ConfigError, match="min_gain_db=6 exceeds max_gain_db=0"):
        Gain(min_gain_db=6.0, max_gain_db=0.0)


def test_noise_reaches_the_requested_snr():
    signal = torch.sin(torch.linspace(0, 400, 16000))
    out = Noise().apply(signal, {"snr_db": 20.0, "noise_seed": 3})
    snr = 10 * torch.log10(signal.pow(2).mean() / (out - signal).pow(2).mean())
    assert abs(float(snr) - 20.0) < 0.3


def test_timeshift_rolls_or_pads():
    example = torch.tensor([1.0, 2.0, 3.0, 4.0])
    roll, pad = prepared(Shift(rollover=True)), prepared(Shift(rollover=False))
    assert roll.apply(example, {"shift_samples": 1}).tolist() == [4.0, 1.0, 2.0, 3.0]
    assert pad.apply(example, {"shift_samples": 1}).tolist() == [0.0, 1.0, 2.0, 3.0]
    assert pad.apply(example, {"shift_samples": -2}).tolist() == [3.0, 4.0, 0.0, 0.0]
    assert example.tolist() == [1.0, 2.0, 3.0, 4.0]  # never in place


def test_specaugment_masks_the_given_bands_and_spans_with_the_mean():
    example = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    out = SpecAugment().apply(example, {"freq": [[1, 1]], "time": [[3, 1]]})
    mean = 5.5
    assert out.tolist() == [[0.0, 1.0, 2.0, mean], [mean, mean, mean, mean], [8.0, 9.0, 10.0, mean]]


def test_probability_outside_the_unit_interval_is_refused():
    with pytest.raises(ConfigError, match="p=1.5 must lie in"):
        Gain(p=1.5)


# ---------------------------------------------------------------------------------------------
# the torch-audiomentations wrappers


def test_polarity_inversion_negates():
    example = sine(440.0, 0.1)
    out, params = prepared(PolarityInversion(p=1.0))(example, np.random.default_rng(0))
    assert torch.equal(out, -example) and params == {"inverted": True}


def test_fixed_gain_of_minus_six_db_halves_the_signal_through_the_call():
    example = sine(440.0, 0.1)
    out, params = prepared(Gain(p=1.0, min_gain_db=-6.0206, max_gain_db=-6.0206))(example, np.random.default_rng(3))
    assert params == {"gain_db": pytest.approx(-6.0206, abs=1e-4)}
    torch.testing.assert_close(out, example / 2, atol=1e-5, rtol=0)


def test_lowpass_and_highpass_keep_their_side_of_the_cutoff():
    low, high = sine(200.0), sine(6000.0)
    lowpass, highpass = prepared(LowPass()), prepared(HighPass())
    assert rms(lowpass.apply(low, {"cutoff_hz": 1000.0})) > 0.95 * rms(low)
    assert rms(lowpass.apply(high, {"cutoff_hz": 1000.0})) < 0.01 * rms(high)
    assert rms(highpass.apply(high, {"cutoff_hz": 1000.0})) > 0.95 * rms(high)
    assert rms(highpass.apply(low, {"cutoff_hz": 1000.0})) < 0.01 * rms(low)


def test_bandpass_keeps_the_band_around_its_centre():
    bandpass = prepared(BandPass())
    params = {"center_hz": 1000.0, "bandwidth_fraction": 0.5}  # 750 to 1250 Hz
    inside, below, above = sine(1000.0), sine(100.0), sine(5000.0)
    assert rms(bandpass.apply(inside, params)) > 0.9 * rms(inside)
    assert rms(bandpass.apply(below, params)) < 0.01 * rms(below)
    assert rms(bandpass.apply(above, params)) < 0.01 * rms(above)


def test_pitch_shift_moves_a_tone_by_the_recorded_ratio():
    shift = prepared(PitchShift(p=1.0))
    example = sine(440.0)
    out = shift.apply(example, {"ratio": "5/4", "semitones": 3.863})
    assert out.shape == example.shape
    assert abs(peak_hz(out) - 550.0) <= 2.0 and abs(peak_hz(example) - 440.0) <= 2.0
    params = [shift.sample_parameters(example, np.random.default_rng(seed)) for seed in range(40)]
    semitones = {p["semitones"] for p in params}
    assert len(semitones) > 1 and all(-4.0 <= value <= 4.0 for value in semitones)


def test_colored_noise_reaches_the_snr_and_its_colour():
    noise = prepared(ColoredNoise(p=1.0))
    example = sine(440.0)
    white = noise.apply(example, {"snr_db": 10.0, "f_decay": 0.0, "noise_seed": 1}) - example
    brown = noise.apply(example, {"snr_db": 10.0, "f_decay": 2.0, "noise_seed": 1}) - example
    for added in (white, brown):
        assert abs(20 * np.log10(rms(example) / rms(added)) - 10.0) < 0.2

    def low_share(x: torch.Tensor) -> float:  # the share of power below 1 kHz
        power = torch.fft.rfft(x).abs().pow(2)
        return float(power[:1000].sum() / power.sum())

    assert low_share(white) < 0.2 and low_share(brown) > 0.9
    again = noise.apply(example, {"snr_db": 10.0, "f_decay": 0.0, "noise_seed": 1}) - example
    other = noise.apply(example, {"snr_db": 10.0, "f_decay": 0.0, "noise_seed": 2}) - example
    assert torch.equal(white, again) and not torch.equal(white, other)


def impulse_responses(folder, tmp_rate: int = RATE):
    import soundfile

    (folder / "rooms").mkdir(parents=True)
    delta = np.zeros(200, dtype=np.float32)
    delta[0] = 1.0
    echo = np.zeros(400, dtype=np.float32)
    echo[[100, 300]] = [0.8, 0.6]  # unit energy already: 0.64 + 0.36
    soundfile.write(folder / "delta.wav", delta, tmp_rate)
    soundfile.write(folder / "rooms" / "echo.flac", echo, tmp_rate)
    (folder / "notes.txt").write_text("not audio")
    return folder


def test_impulse_response_convolves_with_the_recorded_response(tmp_path):
    folder = impulse_responses(tmp_path / "irs")
    example = torch.zeros(1000)
    example[10] = 1.0
    delayed = prepared(ImpulseResponse(path=str(folder), compensate_delay=False))
    assert torch.allclose(delayed.apply(example, {"response": "delta.wav"}), example, atol=1e-6)
    out = delayed.apply(example, {"response": "rooms/echo.flac"})
    expected = torch.zeros(1000)
    expected[110], expected[310] = 0.8, 0.6
    assert torch.allclose(out, expected, atol=1e-4)
    aligned = prepared(ImpulseResponse(path=str(folder)))  # the delay to the peak (100) is removed
    expected = torch.zeros(1000)
    expected[10], expected[210] = 0.8, 0.6
    assert torch.allclose(aligned.apply(example, {"response": "rooms/echo.flac"}), expected, atol=1e-4)
    drawn = {aligned.sample_parameters(example, np.random.default_rng(seed))["response"] for seed in range(20)}
    assert drawn == {"delta.wav", "rooms/echo.flac"}


def test_impulse_response_needs_a_folder_of_audio(tmp_path):
    with pytest.raises(ConfigError, match=r"needs augmenter.impulse_response.path=FOLDER"):
        ImpulseResponse()
    with pytest.raises(ConfigError, match="does not exist"):
        ImpulseResponse(path=str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(ConfigError, match="holds no audio files"):
        ImpulseResponse(path=str(tmp_path / "empty"))


ALL = [
    lambda folder: Gain(p=1.0), lambda folder: Shift(p=1.0), lambda folder: PitchShift(p=1.0),
    lambda folder: LowPass(p=1.0), lambda folder: HighPass(p=1.0), lambda folder: BandPass(p=1.0),
    lambda folder: ColoredNoise(p=1.0), lambda folder: ImpulseResponse(p=1.0, path=str(folder)),
]
NAMES = ["gain", "timeshift", "pitch_shift", "lowpass", "highpass", "bandpass", "colored_noise", "impulse_response"]


@pytest.mark.parametrize("make", ALL, ids=NAMES)
def test_same_seed_same_output_and_the_record_reproduces_it(make, tmp_path):
    transform = prepared(make(impulse_responses(tmp_path / "irs")))
    example = sine(330.0, 0.5) + 0.1 * sine(2500.0, 0.5)
    torch.manual_seed(123)
    random.seed(5)
    random_state, expected_next, python_next = np.random.get_state(), torch.rand(3), random.random()
    torch.manual_seed(123)
    random.seed(5)
    first, params = transform(example, np.random.default_rng(11))
    second, params_again = transform(example, np.random.default_rng(11))
    assert params == params_again and torch.equal(first, second)
    assert torch.equal(transform.apply(example, json.loads(json.dumps(params))), first)
    assert not torch.equal(first, example)
    # the global streams (dropout, data order) are not consumed by the draws
    assert torch.equal(torch.rand(3), expected_next) and np.random.get_state()[1].tolist() == random_state[1].tolist()
    assert random.random() == python_next
    others = [transform(example, np.random.default_rng(seed))[1] for seed in range(12)]
    assert len({json.dumps(p, sort_keys=True) for p in others}) > 1


def test_probability_skips_rows_without_a_record():
    gain = prepared(Gain(p=0.3))
    applied = [gain(sine(440.0, 0.01), np.random.default_rng(seed))[1] is not None for seed in range(200)]
    assert 0.2 < sum(applied) / len(applied) < 0.4


def test_ranges_and_the_nyquist_frequency_are_checked():
    with pytest.raises(ConfigError, match="min_cutoff_hz=5000 exceeds max_cutoff_hz=100"):
        LowPass(min_cutoff_hz=5000.0, max_cutoff_hz=100.0)
    with pytest.raises(ConfigError, match="min_transpose_semitones=3 exceeds max_transpose_semitones=1"):
        PitchShift(min_transpose_semitones=3.0, max_transpose_semitones=1.0)
    with pytest.raises(ConfigError, match=r"max_cutoff_hz=7500 must lie below the Nyquist frequency 4000 Hz"):
        LowPass().prepare(8000)
    with pytest.raises(ConfigError, match="above the Nyquist frequency"):
        BandPass().prepare(8000)


def test_a_transform_used_before_prepare_says_so():
    from mirplug.errors import MirplugError

    with pytest.raises(MirplugError, match=r"augmenter gain: prepare\(sample_rate\) must be called"):
        Gain(p=1.0)(torch.ones(4), np.random.default_rng(0))


def test_a_run_applies_and_records_the_wrapped_augmenters(tmp_path):
    import csv

    from conftest import SMALL_CNN, TINY

    from mirplug.catalog import load_catalog
    from mirplug.config import resolve
    from mirplug.runner import run

    catalog = load_catalog()
    folder = impulse_responses(tmp_path / "irs")
    config = resolve(catalog, ["task=genre", *TINY, *SMALL_CNN, "train.epochs=1", f"out={tmp_path / 'runs'}",
                               "augmenter=polarity_inversion,impulse_response,lowpass", "augmenter.p=1",
                               f"augmenter.impulse_response.path={folder}"])
    result = run(config, catalog)
    with open(result.folder / "augmentations.csv") as stream:
        rows = list(csv.DictReader(stream))
    by_name = {name: [json.loads(r["params"]) for r in rows if r["augmenter"] == name]
               for name in ("polarity_inversion", "impulse_response", "lowpass")}
    windows = {r["window"] for r in rows}
    assert all(len(records) == len(windows) for records in by_name.values())  # p=1: every window, each once
    assert all(r == {"inverted": True} for r in by_name["polarity_inversion"])
    assert {r["response"] for r in by_name["impulse_response"]} == {"delta.wav", "rooms/echo.flac"}
    assert all(150.0 <= r["cutoff_hz"] <= 7500.0 for r in by_name["lowpass"])
