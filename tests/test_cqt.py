"""``cqt`` and ``chroma`` against librosa on tones of known pitch, and their config checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

librosa = pytest.importorskip("librosa")

from mirplug.errors import ConfigError  # noqa: E402
from mirplug_builtin.representations.chroma import Chroma  # noqa: E402
from mirplug_builtin.representations.cqt import CQT  # noqa: E402

SAMPLE_RATE = 16000
HOP_SAMPLES = 320  # hop_length_ms=20 at 16 kHz
C1_MIDI = 24  # bin 0 of the default 84-bin CQT from 32.70 Hz
# Largest difference allowed between the time-averaged, max-normalised spectra of mirplug and
# librosa: librosa resamples per octave (soxr) where mirplug convolves at the full rate; the
# measured worst case over these tones is 0.022.
SPECTRUM_TOLERANCE = 0.03


def librosa_flat_cqt(wave: np.ndarray, n_bins: int = 84, bins_per_octave: int = 12) -> np.ndarray:
    """librosa's CQT magnitude on mirplug's scale.

    ``librosa.cqt`` (``scale=True``) reads ``A / 2 * sqrt(filter length)`` for a sine of amplitude A;
    mirplug's L1-normalised kernels read ``A / 2`` in every bin, so divide by ``sqrt(length)``.
    """
    frequencies = librosa.cqt_frequencies(n_bins, fmin=32.70, bins_per_octave=bins_per_octave)
    lengths, _ = librosa.filters.wavelet_lengths(freqs=frequencies, sr=SAMPLE_RATE)
    magnitude = np.abs(librosa.cqt(wave, sr=SAMPLE_RATE, hop_length=HOP_SAMPLES, fmin=32.70, n_bins=n_bins,
                                   bins_per_octave=bins_per_octave))
    return magnitude / np.sqrt(lengths)[:, None]


def midi_tone(midi: int, seconds: float = 2.0, amplitude: float = 0.5) -> np.ndarray:
    """A sine at the equal-tempered pitch ``midi`` (A4 = 69 = 440 Hz)."""
    frequency = 440.0 * 2.0 ** ((midi - 69) / 12.0)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def steady(spectrum: np.ndarray) -> np.ndarray:
    """Mean over the frames away from the zero-padded edges, scaled to a peak of 1."""
    mean = spectrum[:, 20:-20].mean(axis=1)
    return mean / mean.max()


@pytest.mark.parametrize("midi", [36, 45, 57, 60, 69, 76, 88, 100])
def test_cqt_peak_is_the_tone_bin_and_matches_librosa(midi: int) -> None:
    wave = midi_tone(midi)
    ours = CQT(sample_rate=SAMPLE_RATE, log=False)(torch.from_numpy(wave)[None])[0].numpy()
    reference = librosa_flat_cqt(wave)
    assert ours.shape == reference.shape == (84, 1 + len(wave) // HOP_SAMPLES)
    mine, theirs = steady(ours), steady(reference)
    assert int(mine.argmax()) == midi - C1_MIDI
    assert int(theirs.argmax()) == midi - C1_MIDI
    assert float(np.abs(mine - theirs).max()) < SPECTRUM_TOLERANCE
    # L1-normalised kernels: a sine of amplitude 0.5 reads 0.25 at its bin, as librosa does once rescaled.
    assert float(ours[midi - C1_MIDI, 20:-20].mean()) == pytest.approx(0.25, abs=0.002)
    assert float(reference[midi - C1_MIDI, 20:-20].mean()) == pytest.approx(0.25, abs=0.002)


def test_cqt_36_bins_per_octave_peak_and_log_output() -> None:
    wave = midi_tone(69)
    representation = CQT(sample_rate=SAMPLE_RATE, n_bins=252, bins_per_octave=36)
    features = representation(torch.from_numpy(np.stack([wave, wave * 0.1])))
    assert features.shape == (2, 252, 1 + len(wave) // HOP_SAMPLES)
    assert int(features[0, :, 50].argmax()) == (69 - C1_MIDI) * 3
    # dB: a tenth of the amplitude is 20 dB lower at the peak bin.
    assert float(features[0, 135, 50] - features[1, 135, 50]) == pytest.approx(20.0, abs=0.01)
    assert representation.frame_rate == SAMPLE_RATE / HOP_SAMPLES


@pytest.mark.parametrize("midi", [48, 61, 66, 70, 83])
def test_chroma_argmax_is_the_pitch_class(midi: int) -> None:
    chroma = Chroma(sample_rate=SAMPLE_RATE)(torch.from_numpy(midi_tone(midi))[None])[0].numpy()
    assert chroma.shape[0] == 12
    assert int(chroma[:, 20:-20].mean(axis=1).argmax()) == midi % 12
    assert float(chroma[:, 20:-20].max()) == pytest.approx(1.0)


def test_chroma_of_a_c_major_triad_is_c_e_g_and_agrees_with_librosa() -> None:
    wave = midi_tone(60, amplitude=0.3) + midi_tone(64, amplitude=0.3) + midi_tone(67, amplitude=0.3)
    chroma = Chroma(sample_rate=SAMPLE_RATE)(torch.from_numpy(wave)[None])[0].numpy()
    profile = chroma[:, 20:-20].mean(axis=1)
    assert sorted(np.argsort(profile)[-3:].tolist()) == [0, 4, 7]  # C, E, G
    reference = librosa.feature.chroma_cqt(C=librosa_flat_cqt(wave), sr=SAMPLE_RATE, hop_length=HOP_SAMPLES,
                                           fmin=32.70, n_octaves=7, bins_per_octave=12)
    reference_profile = reference[:, 20:-20].mean(axis=1)
    assert sorted(np.argsort(reference_profile)[-3:].tolist()) == [0, 4, 7]
    assert float(np.abs(profile / profile.max() - reference_profile / reference_profile.max()).max()) < 0.05


def test_bins_above_nyquist_fail_with_the_limit() -> None:
    with pytest.raises(ConfigError, match=r"n_bins=84 .* above Nyquist .* use at most n_bins=83 "):
        CQT(sample_rate=8000, n_bins=84)
    CQT(sample_rate=8000, n_bins=83)  # the stated limit builds


def test_zero_hop_and_bad_folding_fail() -> None:
    with pytest.raises(ConfigError, match=r"hop_length_ms=0.0 is under one sample at 16000 Hz; use at least 0.062"):
        CQT(hop_length_ms=0.0)
    with pytest.raises(ConfigError, match=r"bins_per_octave=10 .* multiple of 12"):
        Chroma(bins_per_octave=10, n_bins=70)


def test_config_time_error_through_resolve() -> None:
    from mirplug.catalog import load_catalog
    from mirplug.config import resolve
    from mirplug.build import build_representation

    catalog = load_catalog()
    config = resolve(catalog, ["representation=cqt", "representation.n_bins=200"])
    with pytest.raises(ConfigError, match=r"use at most n_bins=\d+"):
        build_representation(catalog, config)


def test_chroma_skips_clips_shorter_than_its_cqt_frame() -> None:
    from mirplug.windows import min_samples_of

    chroma, cqt = Chroma(sample_rate=16000), CQT(sample_rate=16000)
    assert min_samples_of(chroma) == min_samples_of(cqt) == cqt.frame_samples > 1
