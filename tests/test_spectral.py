"""``stft``, ``mel`` and ``mfcc`` against torchaudio (what they replace) and librosa, on real signals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchaudio

librosa = pytest.importorskip("librosa")

from mirplug_builtin.representations.common import power_frames, reflect_pad  # noqa: E402
from mirplug_builtin.representations.mel import LogMel  # noqa: E402
from mirplug_builtin.representations.mfcc import MFCC  # noqa: E402
from mirplug_builtin.representations.stft import LogSTFT  # noqa: E402

SAMPLE_RATE = 16000
HOP = 320  # hop_length_ms=20 at 16 kHz
DB_TOLERANCE = 1e-3  # float32 rounding in dB; the measured worst case is under 1e-5 dB


def clips(levels_db: tuple[float, ...] = (0.0, -30.0, -70.0), seconds: float = 1.3) -> torch.Tensor:
    """Chords plus noise at the given levels (a quiet clip exposes any dB floor taken over the batch)."""
    rng = np.random.default_rng(1)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    waves = [10 ** (level / 20) * (0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1234.5 * t)
                                   + 0.05 * rng.standard_normal(len(t))) for level in levels_db]
    return torch.tensor(np.stack(waves), dtype=torch.float32)


def test_reflect_pad_equals_torch_reflect_padding() -> None:
    waves = torch.randn(2, 3, 1000)
    for pad in (0, 1, 256, 999):
        expected = torch.nn.functional.pad(waves.reshape(6, 1000), (pad, pad), mode="reflect").reshape(2, 3, -1)
        assert torch.equal(reflect_pad(waves, pad), expected)


def test_reflect_pad_refuses_input_no_longer_than_the_pad() -> None:
    with pytest.raises(ValueError, match="reflect padding of 256 samples needs more than 256 samples, got 200"):
        reflect_pad(torch.zeros(1, 200), 256)


@pytest.mark.parametrize("n_fft", [512, 511, 400])
def test_power_frames_equal_torch_stft(n_fft: int) -> None:
    waves = clips()
    window = torch.hann_window(n_fft)
    spectrum = torch.stft(waves, n_fft, HOP, window=window, center=True, pad_mode="reflect", return_complex=True)
    expected = spectrum.abs().square().transpose(-1, -2)
    got = power_frames(waves, n_fft, HOP, window)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-7)


def test_mel_equals_torchaudio_and_librosa_in_db() -> None:
    waves = clips()
    got = LogMel(sample_rate=SAMPLE_RATE, n_mels=64)(waves)
    reference = torchaudio.transforms.MelSpectrogram(SAMPLE_RATE, n_fft=512, hop_length=HOP, n_mels=64,
                                                     norm="slaney", mel_scale="slaney")(waves)
    assert float((got - 10 * torch.log10(reference + 1e-10)).abs().max()) < DB_TOLERANCE
    for wave, features in zip(waves.numpy(), got):
        power = librosa.feature.melspectrogram(y=wave, sr=SAMPLE_RATE, n_fft=512, hop_length=HOP, n_mels=64,
                                               pad_mode="reflect")
        # above librosa's float32 noise floor (its mel is computed in float32 too)
        audible = power > 1e-6 * power.max()
        assert np.abs(features.numpy() - 10 * np.log10(power + 1e-10))[audible].max() < 0.01


def test_stft_equals_torchaudio_log_magnitude() -> None:
    waves = clips()
    reference = torchaudio.transforms.Spectrogram(n_fft=512, hop_length=HOP, power=1.0)(waves)
    torch.testing.assert_close(LogSTFT(sample_rate=SAMPLE_RATE)(waves), torch.log(reference + 1e-5),
                               rtol=1e-4, atol=1e-4)


def test_mfcc_equals_torchaudio_per_clip_and_does_not_depend_on_its_batch() -> None:
    waves = clips()
    mfcc = MFCC(sample_rate=SAMPLE_RATE, n_mfcc=20, n_mels=64)
    reference = torchaudio.transforms.MFCC(SAMPLE_RATE, n_mfcc=20, log_mels=False, melkwargs={
        "n_fft": 512, "hop_length": HOP, "n_mels": 64, "norm": "slaney", "mel_scale": "slaney"})
    batched = mfcc(waves)
    for index in range(len(waves)):
        alone = mfcc(waves[index:index + 1])[0]
        torch.testing.assert_close(alone, reference(waves[index:index + 1])[0], rtol=1e-4, atol=1e-3)
        torch.testing.assert_close(batched[index], alone, rtol=1e-5, atol=1e-4)
    # torchaudio floors the quiet clip 80 dB below the loud one in the same batch, so its coefficients change
    assert float((reference(waves)[2] - reference(waves[2:3])[0]).abs().max()) > 1.0
