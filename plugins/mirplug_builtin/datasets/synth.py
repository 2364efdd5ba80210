"""A deterministic procedural generator of labelled music-like clips.

Each style differs in rhythm pattern, tempo range, harmony and instrument timbre; inside
a style the tempo, key, chord progression, timbres, mix, start offset, noise and level
vary at random, and some instruments are shared between styles, so the task is learnable
but not trivial. Loudness is normalised to a random level independent of the style so
that a loudness-only classifier stays near chance.

Everything the generator chose is returned with the clip (style, tempo, beat times, key,
mode, instruments, a valence/arousal pair), so other tasks can use the same data. Pure
numpy: the same ``(seed, index)`` always gives the same clip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

GENERATOR_VERSION = 3
PITCH_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
# Instruments any style may borrow, so that timbre alone does not give the style away.
SHARED_CHORD_INSTRUMENTS = ("piano", "epiano", "organ", "strings", "guitar_clean", "square")
SHARED_BASS_INSTRUMENTS = ("bass", "upright", "subbass", "sawbass")
BORROW_PROBABILITY = 0.3


@dataclass(frozen=True)
class Style:
    """How one style plays: drums on a 16-step grid, tempo, harmony and instruments."""

    name: str
    tempo: tuple[float, float]
    major_probability: float
    progressions: tuple[tuple[int, ...], ...]
    chord: str  # triad | seventh | power | ninth
    chord_steps: tuple[int, ...]  # onsets of the chord instrument on the 16-step grid
    chord_length_steps: float
    chord_instruments: tuple[str, ...]
    bass_steps: tuple[int, ...]
    bass_instrument: str
    drums: dict[str, tuple[int, ...]] = field(default_factory=dict)
    swing: float = 0.0
    chords_per_bar: int = 1


STYLES: tuple[Style, ...] = (
    Style("rock", (100, 150), 0.5, ((1, 5, 6, 4), (1, 4, 5, 4), (6, 4, 1, 5)), "power",
          (0, 2, 4, 6, 8, 10, 12, 14), 2.0, ("guitar", "guitar", "organ"), (0, 2, 4, 6, 8, 10, 12, 14), "bass",
          {"kick": (0, 8, 10), "snare": (4, 12), "hat": (0, 2, 4, 6, 8, 10, 12, 14)}),
    Style("electronic", (120, 134), 0.2, ((1, 6, 3, 7), (1, 1, 6, 7), (1, 4, 6, 5)), "triad",
          (2, 6, 10, 14), 1.0, ("square", "square", "piano"), (2, 3, 6, 7, 10, 11, 14, 15), "sawbass",
          {"kick": (0, 4, 8, 12), "openhat": (2, 6, 10, 14), "clap": (4, 12)}),
    Style("jazz", (90, 180), 0.6, ((2, 5, 1, 6), (1, 6, 2, 5), (3, 6, 2, 5)), "seventh",
          (0, 6, 10), 3.0, ("epiano", "epiano", "piano"), (0, 4, 8, 12), "upright",
          {"ride": (0, 4, 6, 8, 12, 14), "pedalhat": (4, 12), "kick": (0,)}, swing=0.33, chords_per_bar=2),
    Style("hiphop", (76, 98), 0.2, ((1, 6, 4, 5), (1, 4, 1, 7), (6, 4, 1, 1)), "seventh",
          (0,), 16.0, ("epiano", "piano", "strings"), (0, 7, 10), "subbass",
          {"kick": (0, 7, 10), "snare": (4, 12), "hat": tuple(range(16))}, swing=0.2),
    Style("classical", (60, 100), 0.7, ((1, 4, 5, 1), (1, 6, 4, 5), (1, 5, 6, 4)), "triad",
          (0,), 16.0, ("strings", "strings", "piano"), (0, 8), "cello", {}),
    Style("reggae", (70, 95), 0.5, ((1, 4, 1, 5), (1, 5, 4, 4), (6, 4, 1, 5)), "triad",
          (4, 12), 1.0, ("organ", "guitar_clean", "organ"), (0, 3, 6, 8, 11), "bass",
          {"kick": (8,), "rim": (8,), "hat": (0, 2, 4, 6, 8, 10, 12, 14)}, swing=0.15),
    Style("latin", (105, 140), 0.5, ((1, 2, 5, 1), (2, 5, 1, 6), (1, 6, 2, 5)), "seventh",
          (0, 3, 6, 10, 12), 1.5, ("nylon", "nylon", "piano"), (0, 6, 8, 14), "upright",
          {"clave": (0, 3, 6, 10, 12), "shaker": tuple(range(16)), "kick": (0, 6, 8, 14)}),
    Style("funk", (94, 116), 0.4, ((1, 4, 1, 4), (1, 1, 4, 5), (2, 5, 2, 5)), "ninth",
          (0, 3, 6, 9, 12, 14), 0.5, ("clav", "clav", "guitar_clean"), (0, 3, 7, 10, 11, 14), "slapbass",
          {"kick": (0, 3, 10), "snare": (4, 12), "ghost": (2, 7, 9, 15), "hat": tuple(range(16))}),
)


def key_names() -> list[str]:
    """The 24 major and minor keys, majors first, as ``"C major"``."""
    return [f"{p} {m}" for m in ("major", "minor") for p in PITCH_NAMES]


def instrument_names() -> list[str]:
    """Every chord instrument the generator can choose as a clip's lead."""
    names = {i for s in STYLES for i in s.chord_instruments} | set(SHARED_CHORD_INSTRUMENTS)
    return sorted(names)


def tags_of(info: dict[str, Any]) -> list[str]:
    """Tags of a generated clip: its instruments, its style, and 'fast' or 'slow' when clearly so."""
    tempo_tags = ["fast"] if info["tempo"] >= 125 else ["slow"] if info["tempo"] < 90 else []
    return sorted(set(info["instruments"]) | {info["style"]} | set(tempo_tags) | {info["key"].split()[1]})


def tag_names() -> list[str]:
    """Every tag :func:`tags_of` can give."""
    instruments = {i for s in STYLES for i in (*s.chord_instruments, s.bass_instrument)}
    instruments |= set(SHARED_CHORD_INSTRUMENTS) | set(SHARED_BASS_INSTRUMENTS) | {"drums"}
    return sorted(instruments | {s.name for s in STYLES} | {"fast", "slow", "major", "minor"})


def style_names(count: int) -> list[str]:
    """The first ``count`` style names."""
    return [s.name for s in STYLES[:count]]


def _midi_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def _place(buffer: np.ndarray, signal: np.ndarray, start: int) -> None:
    if start >= len(buffer) or start < 0:
        return
    end = min(len(buffer), start + len(signal))
    buffer[start:end] += signal[: end - start]


def _harmonic_tone(freq: float, n: int, sr: int, amps: np.ndarray, decay: float | None, attack: float,
                   rng: np.random.Generator, vibrato: float = 0.0) -> np.ndarray:
    t = np.arange(n, dtype=np.float32) / sr
    ks = np.arange(1, len(amps) + 1, dtype=np.float32)
    keep = ks * freq < sr / 2 - 200
    ks, amps = ks[keep], amps[keep]
    phase_t = t + (vibrato / (2 * np.pi * 5.5)) * np.sin(2 * np.pi * 5.5 * t) if vibrato else t
    phases = rng.uniform(0, 2 * np.pi, len(ks)).astype(np.float32)
    wave = np.sin(2 * np.pi * freq * phase_t[:, None] * ks[None, :] + phases[None, :]) @ amps
    env = np.minimum(1.0, t / max(attack, 1e-3))
    if decay is not None:
        env = env * np.exp(-t / decay)
    release = min(n, int(0.03 * sr))
    env[n - release:] *= np.linspace(1.0, 0.0, release, dtype=np.float32)
    return (wave * env).astype(np.float32)


@dataclass
class Timbre:
    """Random parameters of one instrument for one clip."""

    kind: str
    rolloff: float
    decay: float
    brightness: float

    def render(self, note: float, seconds: float, sr: int, rng: np.random.Generator) -> np.ndarray:
        # Chords repeat the same notes: render each (note, length) once per clip.
        cache = self.__dict__.setdefault("_cache", {})
        key = (note, round(seconds, 3))
        if key not in cache:
            cache[key] = self._render(note, seconds, sr, rng)
        return cache[key]

    def _render(self, note: float, seconds: float, sr: int, rng: np.random.Generator) -> np.ndarray:
        n = max(int(seconds * sr), 16)
        freq = _midi_hz(note)
        k = np.arange(1, 17, dtype=np.float32)
        kind = self.kind
        if kind in ("piano",):
            return _harmonic_tone(freq, n, sr, k[:10] ** -self.rolloff, self.decay, 0.003, rng)
        if kind == "epiano":
            t = np.arange(n, dtype=np.float32) / sr
            index = self.brightness * 3.0 * np.exp(-t / 0.25)
            wave = np.sin(2 * np.pi * freq * t + index * np.sin(2 * np.pi * freq * t))
            return (wave * np.exp(-t / self.decay) * np.minimum(1, t / 0.004)).astype(np.float32)
        if kind == "organ":
            amps = np.array([1, 0.9, 0.6, 0.0, 0.5, 0.0, 0.0, 0.4], dtype=np.float32) * (
                k[:8] ** -(self.rolloff - 1.0))
            return _harmonic_tone(freq, n, sr, amps, None, 0.01, rng)
        if kind in ("strings", "cello"):
            return _harmonic_tone(freq, n, sr, k[:14] ** -self.rolloff, None, 0.12 + 0.1 * self.brightness, rng,
                                  vibrato=0.004 * freq)
        if kind == "square":
            amps = np.where(k[:15] % 2 == 1, k[:15] ** -self.rolloff, 0.0).astype(np.float32)
            return _harmonic_tone(freq, n, sr, amps, self.decay, 0.005, rng)
        if kind == "guitar":
            tone = _harmonic_tone(freq, n, sr, k[:12] ** -self.rolloff, self.decay * 2, 0.004, rng)
            drive = 3.0 + 6.0 * self.brightness
            return (np.tanh(drive * tone) / np.tanh(drive)).astype(np.float32)
        if kind in ("guitar_clean", "nylon"):
            return _harmonic_tone(freq, n, sr, k[:10] ** -(self.rolloff + 0.5), self.decay * 0.6, 0.002, rng)
        if kind == "clav":
            amps = (k[:12] ** -0.6) * (1 + 0.5 * np.cos(k[:12]))
            return _harmonic_tone(freq, n, sr, amps.astype(np.float32), 0.12 + 0.1 * self.decay, 0.002, rng)
        if kind == "subbass":
            return _harmonic_tone(freq, n, sr, np.array([1.0, 0.1], dtype=np.float32), 0.6 + self.decay, 0.01, rng)
        if kind == "sawbass":
            return _harmonic_tone(freq, n, sr, k[:12] ** -1.0, 0.15, 0.003, rng)
        if kind == "slapbass":
            return _harmonic_tone(freq, n, sr, k[:10] ** -0.7, 0.18, 0.001, rng)
        # bass, upright
        return _harmonic_tone(freq, n, sr, k[:6] ** -1.6, 0.3 + 0.3 * self.decay, 0.004, rng)


class DrumKit:
    """Random parameters of a drum kit for one clip."""

    def __init__(self, rng: np.random.Generator, sr: int) -> None:
        self.sr = sr
        self.rng = rng
        self.kick_pitch = (rng.uniform(100, 160), rng.uniform(40, 58))
        self.kick_decay = rng.uniform(0.15, 0.35)
        self.snare_tone = rng.uniform(170, 240)
        self.snare_decay = rng.uniform(0.08, 0.18)
        self.hat_decay = rng.uniform(0.02, 0.05)
        self.ride_freqs = rng.uniform(2500, 7500, 6)

    def _noise(self, n: int) -> np.ndarray:
        return self.rng.standard_normal(n).astype(np.float32)

    def hit(self, kind: str) -> np.ndarray:
        """One hit of ``kind``; two variants per kind alternate at random."""
        variants = self.__dict__.setdefault("_variants", {})
        if kind not in variants:
            variants[kind] = [self._hit(kind) for _ in range(2)]
        return variants[kind][int(self.rng.integers(2))]

    def _hit(self, kind: str) -> np.ndarray:
        sr = self.sr
        if kind == "kick":
            n = int(self.kick_decay * 4 * sr)
            t = np.arange(n, dtype=np.float32) / sr
            hi, lo = self.kick_pitch
            freq = lo + (hi - lo) * np.exp(-t / 0.04)
            return (np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / self.kick_decay)).astype(np.float32)
        if kind in ("snare", "ghost", "clap"):
            n = int(0.4 * sr)
            t = np.arange(n, dtype=np.float32) / sr
            noise = np.diff(self._noise(n + 1)) * 0.5
            body = np.sin(2 * np.pi * self.snare_tone * t) * np.exp(-t / 0.05)
            hit = (noise * np.exp(-t / self.snare_decay) + 0.6 * body).astype(np.float32)
            if kind == "clap":
                hit = hit * (0.6 + 0.4 * np.sign(np.sin(2 * np.pi * 90 * t))).astype(np.float32)
            return hit * (0.3 if kind == "ghost" else 1.0)
        if kind in ("hat", "openhat", "pedalhat", "shaker"):
            decay = {"hat": self.hat_decay, "openhat": 0.2, "pedalhat": 0.03, "shaker": 0.025}[kind]
            n = int(decay * 5 * sr)
            t = np.arange(n, dtype=np.float32) / sr
            noise = np.diff(np.diff(self._noise(n + 2)))
            level = {"hat": 0.35, "openhat": 0.35, "pedalhat": 0.2, "shaker": 0.15}[kind]
            return (level * noise * np.exp(-t / decay)).astype(np.float32)
        if kind == "ride":
            n = int(0.8 * sr)
            t = np.arange(n, dtype=np.float32) / sr
            tone = np.sin(2 * np.pi * self.ride_freqs[None, :] * t[:, None]).sum(axis=1) / 6
            noise = np.diff(self._noise(n + 1)) * 0.2
            return (0.35 * (tone + noise) * np.exp(-t / 0.35)).astype(np.float32)
        # rim, clave
        n = int(0.1 * sr)
        t = np.arange(n, dtype=np.float32) / sr
        freq = 1800.0 if kind == "rim" else 2400.0
        return (0.6 * np.sin(2 * np.pi * freq * t) * np.exp(-t / 0.02)).astype(np.float32)


def _chord_notes(root: int, degree: int, mode: tuple[int, ...], kind: str) -> list[int]:
    """MIDI notes of the chord on scale ``degree`` (1-based) in the key of ``root``."""
    scale = [root + interval for interval in mode]

    def tone(step: int) -> int:
        octave, index = divmod(degree - 1 + step, 7)
        return scale[index] + 12 * octave

    if kind == "power":
        base = tone(0)
        return [base, base + 7, base + 12]
    steps = {"triad": (0, 2, 4), "seventh": (0, 2, 4, 6), "ninth": (0, 2, 4, 6, 8)}[kind]
    return [tone(s) for s in steps]


def generate_clip(style_index: int, seed: int, index: int, seconds: float = 3.0,
                  sample_rate: int = 16000) -> tuple[np.ndarray, dict[str, Any]]:
    """Render one clip of ``STYLES[style_index]``; returns samples and what was generated."""
    style = STYLES[style_index]
    rng = np.random.default_rng([seed, style_index, index, GENERATOR_VERSION])
    sr = sample_rate
    tempo = float(rng.uniform(*style.tempo))
    step_seconds = 60.0 / tempo / 4.0
    bar_seconds = 16 * step_seconds
    n_bars = int(np.ceil(seconds / bar_seconds)) + 1
    total = int((n_bars * bar_seconds + 1.0) * sr)
    mix = np.zeros(total, dtype=np.float32)

    major = bool(rng.random() < style.major_probability)
    mode = MAJOR if major else MINOR
    key_root = int(rng.integers(0, 12))
    progression = style.progressions[int(rng.integers(len(style.progressions)))]
    # Most clips use the style's main instrument; some borrow a shared one.
    chord_instrument = style.chord_instruments[int(rng.integers(len(style.chord_instruments)))]
    if rng.random() < BORROW_PROBABILITY:
        chord_instrument = SHARED_CHORD_INSTRUMENTS[int(rng.integers(len(SHARED_CHORD_INSTRUMENTS)))]
    bass_instrument = style.bass_instrument
    if rng.random() < BORROW_PROBABILITY:
        bass_instrument = SHARED_BASS_INSTRUMENTS[int(rng.integers(len(SHARED_BASS_INSTRUMENTS)))]
    timbre = Timbre(chord_instrument, rng.uniform(0.8, 1.6), rng.uniform(0.4, 1.2), rng.uniform(0.3, 1.0))
    bass = Timbre(bass_instrument, 1.0, rng.uniform(0.0, 1.0), 0.5)
    # Drummers vary: each part of the pattern may be left out of a clip.
    drums = {name: steps for name, steps in style.drums.items() if rng.random() >= 0.15}
    kit = DrumKit(rng, sr)
    gains = {"chords": rng.uniform(0.5, 1.0), "bass": rng.uniform(0.4, 0.9), "drums": rng.uniform(0.5, 1.0)}
    swing = style.swing * rng.uniform(0.6, 1.2)

    def step_time(bar: int, step: float) -> float:
        swung = step + (swing if int(step) % 2 == 1 else 0.0)
        return (bar * 16 + swung) * step_seconds + rng.normal(0, 0.004)

    for bar in range(n_bars):
        for half in range(style.chords_per_bar):
            position = (bar * style.chords_per_bar + half) % (len(progression) * style.chords_per_bar)
            degree = progression[position // style.chords_per_bar if style.chords_per_bar == 1 else
                                 (position % len(progression))]
            notes = _chord_notes(key_root + 48 + (12 if chord_instrument != "strings" else 0), degree, mode,
                                 style.chord)
            lo, hi = half * 16 // style.chords_per_bar, (half + 1) * 16 // style.chords_per_bar
            for step in style.chord_steps:
                if not lo <= step < hi or rng.random() < 0.1:
                    continue
                length = min(style.chord_length_steps, hi - step) * step_seconds
                velocity = rng.uniform(0.6, 1.0)
                for note in notes:
                    sound = timbre.render(note, length, sr, rng) * velocity / len(notes)
                    _place(mix, gains["chords"] * sound, int(step_time(bar, step) * sr))
            bass_root = _chord_notes(key_root + 36, degree, mode, "triad")
            for i, step in enumerate(style.bass_steps):
                if not lo <= step < hi:
                    continue
                note = bass_root[0] if style.name != "jazz" else bass_root[i % 3]
                if bass_instrument == "slapbass" and i % 2:
                    note += 12
                next_steps = [s for s in style.bass_steps if s > step] + [16]
                length = (next_steps[0] - step) * step_seconds * 0.9
                sound = bass.render(note, length, sr, rng) * rng.uniform(0.7, 1.0)
                _place(mix, gains["bass"] * 0.6 * sound, int(step_time(bar, step) * sr))
        for drum, steps in drums.items():
            for step in steps:
                if rng.random() < (0.2 if drum in ("hat", "shaker") else 0.08):
                    continue
                velocity = rng.uniform(0.6, 1.0) * (0.7 if drum == "hat" and step % 2 else 1.0)
                _place(mix, gains["drums"] * 0.5 * velocity * kit.hit(drum), int(step_time(bar, step) * sr))

    # Start anywhere in the first bar so clips do not all begin on a downbeat.
    offset = float(rng.uniform(0, bar_seconds))
    start = int(offset * sr)
    clip = mix[start:start + int(seconds * sr)]
    # A random recording: a gentle low-pass tilt, then noise at 8 to 35 dB SNR.
    smooth = rng.uniform(0.0, 0.8)
    if smooth > 0.05:
        kernel = smooth ** np.arange(24, dtype=np.float32)
        clip = np.convolve(clip, kernel / kernel.sum(), mode="same").astype(np.float32)
    clip = clip + rng.standard_normal(len(clip)).astype(np.float32) * np.std(clip) * 10 ** (-rng.uniform(8, 35) / 20)
    target_rms = 10 ** (rng.uniform(-28, -16) / 20)
    clip = clip * (target_rms / max(float(np.sqrt(np.mean(clip**2))), 1e-8))
    clip = np.clip(clip, -0.99, 0.99).astype(np.float32)

    beats = [round(b * 4 * step_seconds - offset, 4) for b in range(n_bars * 4)
             if 0 <= b * 4 * step_seconds - offset < seconds]
    instruments = sorted({chord_instrument, bass_instrument} | ({"drums"} if drums else set()))
    arousal = float(np.clip((tempo - 60) / 120 + (0.2 if drums else -0.2) + rng.normal(0, 0.05), 0, 1))
    valence = float(np.clip((0.65 if major else 0.3) + (tempo - 100) / 300 + rng.normal(0, 0.05), 0, 1))
    info = {
        "style": style.name,
        "tempo": round(tempo, 3),
        "beats": beats,
        "key": f"{PITCH_NAMES[key_root]} {'major' if major else 'minor'}",
        "instruments": instruments,
        "lead_instrument": chord_instrument,
        "valence": round(valence, 4),
        "arousal": round(arousal, 4),
    }
    return clip, info
