"""Handcrafted descriptors with Essentia's standard algorithms, per frame and per clip, in numpy.

:class:`DescriptorExtractor` holds the configured algorithms (configuring them is costly,
so it is done once per sample rate and frame size) and computes

* :meth:`~DescriptorExtractor.frames`: ``(FRAME_NAMES, frames)`` frame-level descriptors, and
* :meth:`~DescriptorExtractor.clip`: the clip-level vector named by :func:`clip_names` (mean
  and standard deviation of every frame descriptor, plus clip-level ones: dynamic complexity,
  key and scale strength, BPM, onset rate, danceability).

Essentia's rhythm algorithms (``RhythmExtractor2013``, ``OnsetRate``) assume 44.1 kHz, so
audio at another rate is resampled with Essentia's ``Resample`` for those two only.
"""

from __future__ import annotations

import numpy as np

RHYTHM_RATE = 44100
N_MFCC = 13
N_GFCC = 13
N_CONTRAST = 6
# Essentia's HPCP starts at its reference frequency (A = 440 Hz), not at C.
HPCP_CLASSES = ("A", "A#", "B", "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#")


def frame_names() -> list[str]:
    """Names of the frame-level descriptor rows, in order."""
    return ([f"mfcc_{i}" for i in range(N_MFCC)] + [f"gfcc_{i}" for i in range(N_GFCC)]
            + ["spectral_centroid", "spectral_rolloff", "spectral_flux"]
            + [f"spectral_contrast_{i}" for i in range(N_CONTRAST)]
            + [f"spectral_valley_{i}" for i in range(N_CONTRAST)]
            + ["spectral_complexity", "zero_crossing_rate", "loudness"]
            + [f"hpcp_{name}" for name in HPCP_CLASSES])


CLIP_LEVEL = ("dynamic_complexity", "dynamic_loudness", "key_strength", "key_scale_major", "bpm",
              "bpm_confidence", "onset_rate", "danceability")


def clip_names() -> list[str]:
    """Names of the clip-level vector's dimensions, in order."""
    names = frame_names()
    return [f"{n}_mean" for n in names] + [f"{n}_std" for n in names] + list(CLIP_LEVEL)


class DescriptorExtractor:
    """Essentia algorithms configured for one sample rate, frame size and hop."""

    def __init__(self, sample_rate: int, frame_size: int, hop_size: int) -> None:
        import essentia
        import essentia.standard as es

        # Essentia logs INFO and WARNING lines (e.g. on silent frames) to stdout; mirplug reports its own.
        essentia.log.infoActive = False
        essentia.log.warningActive = False
        self.sample_rate, self.frame_size, self.hop_size = sample_rate, frame_size, hop_size
        nyquist = sample_rate / 2.0
        bins = frame_size // 2 + 1
        self.window = es.Windowing(type="hann", size=frame_size)
        self.spectrum = es.Spectrum(size=frame_size)
        self.mfcc = es.MFCC(inputSize=bins, sampleRate=sample_rate, numberCoefficients=N_MFCC,
                            highFrequencyBound=min(11000.0, nyquist))
        self.gfcc = es.GFCC(inputSize=bins, sampleRate=sample_rate, numberCoefficients=N_GFCC,
                            highFrequencyBound=min(11000.0, nyquist))
        self.centroid = es.Centroid(range=nyquist)
        self.rolloff = es.RollOff(sampleRate=sample_rate)
        self.flux = es.Flux()
        self.contrast = es.SpectralContrast(frameSize=frame_size, sampleRate=sample_rate,
                                            highFrequencyBound=min(11000.0, nyquist), numberBands=N_CONTRAST)
        self.complexity = es.SpectralComplexity(sampleRate=sample_rate)
        self.zcr = es.ZeroCrossingRate()
        self.loudness = es.Loudness()
        self.peaks = es.SpectralPeaks(sampleRate=sample_rate, maxFrequency=min(5000.0, nyquist), minFrequency=40.0,
                                      maxPeaks=60, magnitudeThreshold=1e-5, orderBy="magnitude")
        self.hpcp = es.HPCP(sampleRate=sample_rate, size=12, maxFrequency=min(5000.0, nyquist), minFrequency=40.0)
        self.dynamic = es.DynamicComplexity(sampleRate=sample_rate)
        self.key = es.KeyExtractor(sampleRate=sample_rate)
        self.danceability = es.Danceability(sampleRate=sample_rate)
        self.rhythm = es.RhythmExtractor2013(method="degara")
        self.onsets = es.OnsetRate()
        self.resample = (es.Resample(inputSampleRate=sample_rate, outputSampleRate=RHYTHM_RATE)
                         if sample_rate != RHYTHM_RATE else None)

    def n_frames(self, n_samples: int) -> int:
        """Frames of a signal of ``n_samples`` (a shorter signal is padded to one frame)."""
        return 1 + max(0, n_samples - self.frame_size) // self.hop_size

    def frames(self, signal: np.ndarray) -> np.ndarray:
        """Frame-level descriptors ``(len(frame_names()), n_frames)`` of a mono float signal."""
        signal = np.ascontiguousarray(signal, dtype=np.float32)
        if len(signal) < self.frame_size:
            signal = np.pad(signal, (0, self.frame_size - len(signal)))
        columns = []
        for index in range(self.n_frames(len(signal))):
            frame = signal[index * self.hop_size:index * self.hop_size + self.frame_size]
            spectrum = self.spectrum(self.window(frame))
            _, mfcc = self.mfcc(spectrum)
            _, gfcc = self.gfcc(spectrum)
            contrast, valleys = self.contrast(spectrum)
            frequencies, magnitudes = self.peaks(spectrum)
            columns.append(np.concatenate([
                mfcc, gfcc,
                [self.centroid(spectrum), self.rolloff(spectrum), self.flux(spectrum)],
                contrast, valleys,
                [self.complexity(spectrum), self.zcr(frame), self.loudness(frame)],
                self.hpcp(frequencies, magnitudes),
            ]).astype(np.float32))
        return np.stack(columns, axis=1)

    def clip(self, signal: np.ndarray) -> np.ndarray:
        """The clip-level vector (see :func:`clip_names`) of a mono float signal."""
        signal = np.ascontiguousarray(signal, dtype=np.float32)
        frames = self.frames(signal)
        dynamic, dynamic_loudness = self.dynamic(signal)
        _, scale, strength = self.key(signal)
        rhythm_signal = self.resample(signal) if self.resample is not None else signal
        bpm, _, confidence, _, _ = self.rhythm(rhythm_signal)
        _, onset_rate = self.onsets(rhythm_signal)
        danceability, _ = self.danceability(signal)
        clip_level = [dynamic, dynamic_loudness, strength, 1.0 if scale == "major" else 0.0, bpm, confidence,
                      onset_rate, danceability]
        vector = np.concatenate([frames.mean(axis=1), frames.std(axis=1), np.asarray(clip_level, dtype=np.float64)])
        # Essentia returns -inf or nan on digital silence for a few descriptors; a vector must stay finite.
        return np.nan_to_num(vector, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)
