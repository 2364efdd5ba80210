"""Waveform augmenters that wrap torch-audiomentations (MIT; Jordal et al.).

Each class here is a mirplug :class:`~mirplug.components.Transform` around one
torch-audiomentations transform: the library draws the parameters (its own
``randomize_parameters``, with its own distributions: cut-offs uniform on the mel scale, pitch
shifts from the ratios its resampler makes fast, ...) and applies them (its own
``apply_transform``). What mirplug adds:

* **seeding**: the library draws from torch's and Python's *global* generators. Every draw here
  runs inside :func:`seeded`, which seeds both with a number drawn from the row's own numpy
  generator (the loop seeds it with seed, epoch, window and position) and restores them
  afterwards, so a row's parameters depend on its seed only, and training's own random streams
  (dropout, data order) are untouched;
* **a record per row**: the drawn parameters become a small JSON dict with units in its keys
  (``cutoff_hz``, ``gain_db``, ``semitones``, ...), written to the run's ``augmentations.csv``;
  :meth:`apply` turns the record back into the library's parameters, so the record alone
  reproduces the output (the contract tests check this);
* **probability** ``p`` per row and the sample rate from :meth:`Transform.prepare`.

Rows are transformed one at a time, each with its own seed: on the CPU the library itself loops
over the examples of a batch for pitch shift, the filters and shift, so one batched call would
save nothing measurable, and per-row calls keep each row's output independent of which rows
share its batch (a resumed run, ``mirplug augment`` and the record all reproduce it).

``impulse_response`` reads the impulse responses itself (soundfile: WAV, FLAC, OGG, MP3, ...;
resampled with soxr) because the library's reader needs ``torchaudio.info``, which
torchaudio 2.9 removed; it draws which response with the row's generator and convolves with the
library's ``apply_transform``.
"""

from __future__ import annotations

import abc
import math
import random
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mirplug import AUDIO_EXTENSIONS, ConfigError, DataError, MirplugError, Transform


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch's CPU generator and Python's ``random`` with ``seed`` for the block, then restore both."""
    state = random.getstate()
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(seed)
        random.seed(seed)
        try:
            yield
        finally:
            random.setstate(state)


def ordered(name: str, low_key: str, low: float, high_key: str, high: float) -> None:
    """Refuse a range whose minimum exceeds its maximum, naming both options."""
    if low > high:
        raise ConfigError(f"augmenter {name}: {low_key}={low:g} exceeds {high_key}={high:g}; swap them")


class Wrapped(Transform, abc.ABC):
    """One torch-audiomentations transform as a seeded, recorded mirplug transform on ``(time,)`` waveforms."""

    stage = "waveform"
    name = ""  # the augmenter's name, for messages
    seeded_apply = False  # the library draws random numbers while applying (noise): seed that too

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p)
        self._module: Any = None

    @abc.abstractmethod
    def library(self, sample_rate: int) -> Any:
        """The torch-audiomentations transform, built for ``sample_rate``."""

    @abc.abstractmethod
    def record(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """The library's drawn parameters (a batch of one) as a JSON dict with units in its keys."""

    @abc.abstractmethod
    def restore(self, record: dict[str, Any]) -> dict[str, Any]:
        """The library's parameters (a batch of one) from :meth:`record`'s dict."""

    def prepare(self, sample_rate: int) -> None:
        if sample_rate != self.sample_rate:
            super().prepare(sample_rate)
            self._module = None

    @property
    def module(self) -> Any:
        """The library transform for the prepared sample rate (built on first use)."""
        if self.sample_rate is None:
            raise MirplugError(f"augmenter {self.name}: prepare(sample_rate) must be called before it is used")
        if self._module is None:
            try:
                self._module = self.library(self.sample_rate)
            except ValueError as exc:  # a range the library cannot serve at this sample rate
                raise ConfigError(f"augmenter {self.name}: {exc}") from None
        return self._module

    def draw(self, module: Any, samples: torch.Tensor, rng: np.random.Generator) -> None:
        """Fill ``module.transform_parameters`` for ``samples`` ``(1, 1, time)`` (seeded by the caller)."""
        module.randomize_parameters(samples=samples, sample_rate=self.sample_rate)

    def sample_parameters(self, example: torch.Tensor, rng: np.random.Generator) -> dict[str, Any]:
        module = self.module
        seed = int(rng.integers(2**32))
        module.transform_parameters = {}
        with seeded(seed):
            self.draw(module, example.reshape(1, 1, -1), rng)
        drawn = self.record(module.transform_parameters)
        if self.seeded_apply:
            drawn["noise_seed"] = seed
        return drawn

    def apply(self, example: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        module = self.module
        module.transform_parameters = self.restore(params)
        samples = example.reshape(1, 1, -1).clone()  # the library works in place on some paths
        if self.seeded_apply:
            with seeded(int(params["noise_seed"])):
                out = module.apply_transform(samples=samples, sample_rate=self.sample_rate)
        else:
            out = module.apply_transform(samples=samples, sample_rate=self.sample_rate)
        return out.samples.reshape(example.shape).to(example.dtype)


def _scalar(value: Any) -> float:
    return float(torch.as_tensor(value).reshape(-1)[0])


def _one(value: float) -> torch.Tensor:
    return torch.tensor([float(value)], dtype=torch.float32)


class PitchShift(Wrapped):
    """Transpose without changing the tempo (phase vocoder + resampling, torch-pitch-shift).

    The library draws from the transpositions in the range that its resampler makes fast (ratios of
    small integers for the sample rate): at 16 kHz and +-4 semitones these are -3.86, -0.41, +0.41 and
    +3.86 semitones; a wider range offers more.
    """

    name = "pitch_shift"

    def __init__(self, p: float = 0.5, min_transpose_semitones: float = -4.0,
                 max_transpose_semitones: float = 4.0) -> None:
        super().__init__(p)
        ordered(self.name, "min_transpose_semitones", min_transpose_semitones, "max_transpose_semitones",
                max_transpose_semitones)
        self.min_transpose_semitones, self.max_transpose_semitones = min_transpose_semitones, max_transpose_semitones

    def library(self, sample_rate: int) -> Any:
        from torch_audiomentations import PitchShift as Library

        return Library(min_transpose_semitones=self.min_transpose_semitones,
                       max_transpose_semitones=self.max_transpose_semitones, p=1.0, sample_rate=sample_rate,
                       output_type="dict")

    def apply(self, example: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        # The library's own pitch_shift (torch-pitch-shift) with the usual phase-vocoder STFT: a Hann window
        # of about 32 ms with 75 % overlap. Its default (n_fft = rate / 64, hop n_fft / 32, a rectangular
        # window) took 0.67 s per 3 s window at 16 kHz on one core, this 0.06 s (the same pitch).
        from torch_pitch_shift import pitch_shift

        assert self.sample_rate is not None
        n_fft = 2 ** max(6, round(math.log2(0.032 * self.sample_rate)))
        out = pitch_shift(example.reshape(1, 1, -1), Fraction(params["ratio"]), self.sample_rate, n_fft=n_fft,
                          hop_length=n_fft // 4, window=torch.hann_window(n_fft, dtype=example.dtype))
        return out.reshape(example.shape).to(example.dtype)

    def record(self, parameters: dict[str, Any]) -> dict[str, Any]:
        ratio = Fraction(parameters["transpositions"][0])
        return {"semitones": round(12 * math.log2(ratio), 6), "ratio": f"{ratio.numerator}/{ratio.denominator}"}

    def restore(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"transpositions": [Fraction(record["ratio"])]}


class _Cutoff(Wrapped):
    """A low- or high-pass filter (windowed sinc, julius) at a cut-off drawn uniformly on the mel scale."""

    default_range = (0.0, 0.0)

    def __init__(self, p: float = 0.5, min_cutoff_hz: float | None = None, max_cutoff_hz: float | None = None) -> None:
        super().__init__(p)
        low, high = self.default_range
        self.min_cutoff_hz = low if min_cutoff_hz is None else min_cutoff_hz
        self.max_cutoff_hz = high if max_cutoff_hz is None else max_cutoff_hz
        ordered(self.name, "min_cutoff_hz", self.min_cutoff_hz, "max_cutoff_hz", self.max_cutoff_hz)

    def prepare(self, sample_rate: int) -> None:
        if self.max_cutoff_hz >= sample_rate / 2:
            raise ConfigError(f"augmenter {self.name}: max_cutoff_hz={self.max_cutoff_hz:g} must lie below the "
                              f"Nyquist frequency {sample_rate / 2:g} Hz of the {sample_rate} Hz audio")
        super().prepare(sample_rate)

    def draw(self, module: Any, samples: torch.Tensor, rng: np.random.Generator) -> None:
        module.cached_lpf = None  # the library caches a filter when min == max and then skips the draw
        super().draw(module, samples, rng)

    def record(self, parameters: dict[str, Any]) -> dict[str, Any]:
        return {"cutoff_hz": _scalar(parameters["cutoff_freq"])}

    def restore(self, record: dict[str, Any]) -> dict[str, Any]:
        self.module.cached_lpf = None
        return {"cutoff_freq": _one(record["cutoff_hz"])}


class LowPass(_Cutoff):
    """Keep what lies below a random cut-off frequency."""

    name = "lowpass"
    default_range = (150.0, 7500.0)

    def library(self, sample_rate: int) -> Any:
        from torch_audiomentations import LowPassFilter

        return LowPassFilter(min_cutoff_freq=self.min_cutoff_hz, max_cutoff_freq=self.max_cutoff_hz, p=1.0,
                             sample_rate=sample_rate, output_type="dict")


class HighPass(_Cutoff):
    """Keep what lies above a random cut-off frequency."""

    name = "highpass"
    default_range = (20.0, 2400.0)

    def library(self, sample_rate: int) -> Any:
        from torch_audiomentations import HighPassFilter

        return HighPassFilter(min_cutoff_freq=self.min_cutoff_hz, max_cutoff_freq=self.max_cutoff_hz, p=1.0,
                              sample_rate=sample_rate, output_type="dict")


class BandPass(Wrapped):
    """Keep a band around a random centre frequency (mel-uniform) with a random relative bandwidth."""

    name = "bandpass"

    def __init__(self, p: float = 0.5, min_center_hz: float = 200.0, max_center_hz: float = 4000.0,
                 min_bandwidth_fraction: float = 0.5, max_bandwidth_fraction: float = 1.99) -> None:
        super().__init__(p)
        ordered(self.name, "min_center_hz", min_center_hz, "max_center_hz", max_center_hz)
        ordered(self.name, "min_bandwidth_fraction", min_bandwidth_fraction, "max_bandwidth_fraction",
                max_bandwidth_fraction)
        self.min_center_hz, self.max_center_hz = min_center_hz, max_center_hz
        self.min_bandwidth_fraction, self.max_bandwidth_fraction = min_bandwidth_fraction, max_bandwidth_fraction

    def prepare(self, sample_rate: int) -> None:
        top = self.max_center_hz * (1 + self.max_bandwidth_fraction / 2)
        if top >= sample_rate / 2:
            raise ConfigError(f"augmenter {self.name}: the widest band around max_center_hz={self.max_center_hz:g} "
                              f"reaches {top:g} Hz, above the Nyquist frequency {sample_rate / 2:g} Hz of the "
                              f"{sample_rate} Hz audio; lower max_center_hz or max_bandwidth_fraction")
        super().prepare(sample_rate)

    def library(self, sample_rate: int) -> Any:
        from torch_audiomentations import BandPassFilter

        return BandPassFilter(min_center_frequency=self.min_center_hz, max_center_frequency=self.max_center_hz,
                              min_bandwidth_fraction=self.min_bandwidth_fraction,
                              max_bandwidth_fraction=self.max_bandwidth_fraction, p=1.0, sample_rate=sample_rate,
                              output_type="dict")

    def record(self, parameters: dict[str, Any]) -> dict[str, Any]:
        return {"center_hz": _scalar(parameters["center_freq"]),
                "bandwidth_fraction": _scalar(parameters["bandwidth"])}

    def restore(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"center_freq": _one(record["center_hz"]), "bandwidth": _one(record["bandwidth_fraction"])}


class ColoredNoise(Wrapped):
    """Add noise with power falling as ``1 / f ** f_decay`` (0 white, 1 pink, 2 brown, -1 blue) at a random SNR."""

    name = "colored_noise"
    seeded_apply = True

    def __init__(self, p: float = 0.5, min_snr_db: float = 3.0, max_snr_db: float = 30.0, min_f_decay: float = -2.0,
                 max_f_decay: float = 2.0) -> None:
        super().__init__(p)
        ordered(self.name, "min_snr_db", min_snr_db, "max_snr_db", max_snr_db)
        ordered(self.name, "min_f_decay", min_f_decay, "max_f_decay", max_f_decay)
        self.min_snr_db, self.max_snr_db = min_snr_db, max_snr_db
        self.min_f_decay, self.max_f_decay = min_f_decay, max_f_decay

    def library(self, sample_rate: int) -> Any:
        from torch_audiomentations import AddColoredNoise

        return AddColoredNoise(min_snr_in_db=self.min_snr_db, max_snr_in_db=self.max_snr_db,
                               min_f_decay=self.min_f_decay, max_f_decay=self.max_f_decay, p=1.0,
                               sample_rate=sample_rate, output_type="dict")

    def record(self, parameters: dict[str, Any]) -> dict[str, Any]:
        return {"snr_db": _scalar(parameters["snr_in_db"]), "f_decay": _scalar(parameters["f_decay"])}

    def restore(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"snr_in_db": _one(record["snr_db"]), "f_decay": _one(record["f_decay"])}


class PolarityInversion(Wrapped):
    """Multiply by -1 (inaudible alone; changes phase relations once mixed or filtered)."""

    name = "polarity_inversion"

    def library(self, sample_rate: int) -> Any:
        from torch_audiomentations import PolarityInversion as Library

        return Library(p=1.0, sample_rate=sample_rate, output_type="dict")

    def record(self, parameters: dict[str, Any]) -> dict[str, Any]:
        return {"inverted": True}

    def restore(self, record: dict[str, Any]) -> dict[str, Any]:
        return {}


class Gain(Wrapped):
    """Multiply by ``10 ** (gain_db / 20)``, ``gain_db`` uniform in the range."""

    name = "gain"

    def __init__(self, p: float = 0.5, min_gain_db: float = -12.0, max_gain_db: float = 12.0) -> None:
        super().__init__(p)
        ordered(self.name, "min_gain_db", min_gain_db, "max_gain_db", max_gain_db)
        self.min_gain_db, self.max_gain_db = min_gain_db, max_gain_db

    def library(self, sample_rate: int) -> Any:
        from torch_audiomentations import Gain as Library

        # the library refuses an empty range; a fixed gain is drawn in :meth:`draw` instead
        high = self.max_gain_db if self.max_gain_db > self.min_gain_db else self.min_gain_db + 1.0
        return Library(min_gain_in_db=self.min_gain_db, max_gain_in_db=high, p=1.0, sample_rate=sample_rate,
                       output_type="dict")

    def draw(self, module: Any, samples: torch.Tensor, rng: np.random.Generator) -> None:
        if self.max_gain_db > self.min_gain_db:
            super().draw(module, samples, rng)
        else:
            module.transform_parameters["gain_factors"] = self.restore({"gain_db": self.min_gain_db})["gain_factors"]

    def record(self, parameters: dict[str, Any]) -> dict[str, Any]:
        return {"gain_db": 20.0 * math.log10(_scalar(parameters["gain_factors"]))}

    def restore(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"gain_factors": torch.tensor(10.0 ** (float(record["gain_db"]) / 20.0),
                                             dtype=torch.float32).reshape(1, 1, 1)}


class Shift(Wrapped):
    """Shift in time by up to ``max_shift_fraction`` of the clip either way, rolling over or padding with zeros."""

    name = "timeshift"

    def __init__(self, p: float = 0.5, max_shift_fraction: float = 0.5, rollover: bool = True) -> None:
        super().__init__(p)
        if not 0.0 <= max_shift_fraction <= 1.0:
            raise ConfigError(f"augmenter {self.name}: max_shift_fraction={max_shift_fraction:g} must lie in [0, 1]")
        self.max_shift_fraction, self.rollover = max_shift_fraction, rollover

    def library(self, sample_rate: int) -> Any:
        from torch_audiomentations import Shift as Library

        return Library(min_shift=-self.max_shift_fraction, max_shift=self.max_shift_fraction, shift_unit="fraction",
                       rollover=self.rollover, p=1.0, sample_rate=sample_rate, output_type="dict")

    def record(self, parameters: dict[str, Any]) -> dict[str, Any]:
        return {"shift_samples": int(_scalar(parameters["num_samples_to_shift"]))}

    def restore(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"num_samples_to_shift": torch.tensor([int(record["shift_samples"])], dtype=torch.int32)}


class ImpulseResponse(Wrapped):
    """Convolve with an impulse response (a room, a speaker, a microphone) drawn from the files in ``path``."""

    name = "impulse_response"

    def __init__(self, p: float = 0.5, path: str | None = None, compensate_delay: bool = True) -> None:
        super().__init__(p)
        if not path:
            raise ConfigError(f"augmenter {self.name} needs augmenter.{self.name}.path=FOLDER, a folder (or one "
                              f"file) of impulse responses as audio files")
        self.path = Path(path).expanduser()
        if self.path.is_file():
            self.files = [self.path]
        elif self.path.is_dir():
            self.files = sorted(f for f in self.path.rglob("*") if f.suffix.lower() in AUDIO_EXTENSIONS)
        else:
            raise ConfigError(f"augmenter {self.name}: path={path} does not exist; give a folder of impulse "
                              f"responses (WAV, FLAC, ...)")
        if not self.files:
            raise ConfigError(f"augmenter {self.name}: {path} holds no audio files "
                              f"({', '.join(AUDIO_EXTENSIONS)}); give a folder of impulse responses")
        self.compensate_delay = compensate_delay
        self.responses: dict[str, torch.Tensor] = {}

    def name_of(self, file: Path) -> str:
        return file.name if file == self.path else file.relative_to(self.path).as_posix()

    def read(self, file: Path, sample_rate: int) -> np.ndarray:
        """One response as mono float32 at ``sample_rate``, scaled to unit energy (it colours the sound without
        changing its level much)."""
        import soundfile
        import soxr

        try:
            samples, rate = soundfile.read(str(file), dtype="float32", always_2d=True)
        except Exception as exc:  # noqa: BLE001 - soundfile raises several types for unreadable files
            raise DataError(f"augmenter {self.name}: cannot read the impulse response {file}: {exc}") from None
        mono = samples.mean(axis=1)
        if rate != sample_rate:
            mono = soxr.resample(mono, rate, sample_rate, quality="HQ")
        energy = float(np.sqrt(np.sum(mono.astype(np.float64) ** 2)))
        if not np.isfinite(energy) or energy < 1e-6:
            raise DataError(f"augmenter {self.name}: the impulse response {file} is silent or not finite")
        return np.ascontiguousarray(mono / energy, dtype=np.float32)

    def prepare(self, sample_rate: int) -> None:
        if sample_rate == self.sample_rate and self.responses:
            return
        self.responses = {self.name_of(file): torch.from_numpy(self.read(file, sample_rate)) for file in self.files}
        super().prepare(sample_rate)

    def library(self, sample_rate: int) -> Any:
        from torch_audiomentations import ApplyImpulseResponse
        from torch_audiomentations.core.transforms_interface import BaseWaveformTransform

        class Responses(ApplyImpulseResponse):
            """The library's convolution without its file reader (the responses are read and drawn here)."""

            def __init__(self, compensate: bool) -> None:
                BaseWaveformTransform.__init__(self, p=1.0, sample_rate=sample_rate, output_type="dict")
                self.ir_paths: list[str] = []
                self.convolve_mode = "full"
                self.compensate_for_propagation_delay = compensate

        return Responses(self.compensate_delay)

    def draw(self, module: Any, samples: torch.Tensor, rng: np.random.Generator) -> None:
        names = list(self.responses)
        module.transform_parameters = self.restore({"response": names[int(rng.integers(len(names)))]})

    def record(self, parameters: dict[str, Any]) -> dict[str, Any]:
        return {"response": parameters["ir_paths"][0]}

    def restore(self, record: dict[str, Any]) -> dict[str, Any]:
        name = record["response"]
        if name not in self.responses:
            raise DataError(f"augmenter {self.name}: impulse response '{name}' is not in {self.path}")
        return {"ir": self.responses[name].reshape(1, 1, -1), "ir_paths": [name]}
