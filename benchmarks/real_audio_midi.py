"""Procedural MIDI pieces in eight styles, for the real-audio benchmark (``benchmarks/real_audio.py``).

Each style is a small set of rules: a tempo range, a drum pattern (General MIDI channel 10),
a bass line, a chord rhythm and voicing, an optional melody, and the instruments (General MIDI
programs) each part may be played on. A piece draws its tempo, key, chord progression,
instruments, velocities and small timing variations from ``numpy.random.default_rng([style,
index, seed])``, so the same arguments always give the same MIDI file. The pieces are rendered
to audio by fluidsynth through real sampled SoundFonts (see ``real_audio.py``): what differs
between styles is rhythm, harmony, register and instrumentation, as between recorded genres;
what differs between SoundFonts is the timbre of every instrument.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

DRUM = {"kick": 36, "snare": 38, "rim": 37, "clap": 39, "hat": 42, "pedal": 44, "open": 46, "ride": 51,
        "crash": 49, "tom_lo": 45, "tom_hi": 50, "shaker": 70, "clave": 75, "conga_hi": 63, "conga_lo": 64,
        "cowbell": 56, "tamb": 54, "brush": 40}

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
DORIAN = (0, 2, 3, 5, 7, 9, 10)


@dataclass
class Note:
    """One note: start and end in beats, MIDI pitch, velocity, and the part it belongs to."""

    start: float
    end: float
    pitch: int
    velocity: int


@dataclass
class Part:
    """One instrument's notes; ``program`` is a General MIDI program (ignored for drums)."""

    program: int
    notes: list[Note]
    drums: bool = False


def _triad(scale: tuple[int, ...], degree: int, sevenths: bool = False) -> list[int]:
    """Pitch classes (semitones above the key) of the chord on ``degree`` (0-based) of ``scale``."""
    steps = (0, 2, 4, 6) if sevenths else (0, 2, 4)
    return [scale[(degree + s) % 7] + 12 * ((degree + s) // 7) for s in steps]


def _drums(pattern: dict[str, list[float]], bars: int, rng: np.random.Generator, swing: float = 0.0,
           accent: int = 100, spread: int = 20) -> Part:
    notes = []
    for bar in range(bars):
        for name, beats in pattern.items():
            for beat in beats:
                offset = swing if swing and (beat * 2) % 2 == 1 else 0.0  # swung off-beat eighths
                start = bar * 4 + beat + offset
                velocity = int(np.clip(accent - (0 if beat == int(beat) else 15) + rng.integers(-spread, spread + 1),
                                       30, 127))
                notes.append(Note(start, start + 0.1, DRUM[name], velocity))
    return Part(0, notes, drums=True)


def _chords(progression: list[list[int]], key: int, octave: int, rhythm: list[tuple[float, float]], bars: int,
            rng: np.random.Generator, velocity: int = 80, spread: int = 12) -> list[Note]:
    """Block chords: each bar plays its chord at the (start, length) points of ``rhythm``."""
    notes = []
    for bar in range(bars):
        chord = progression[bar % len(progression)]
        for start, length in rhythm:
            v = int(np.clip(velocity + rng.integers(-spread, spread + 1), 30, 127))
            for pitch in chord:
                notes.append(Note(bar * 4 + start, bar * 4 + start + length, 12 * octave + key + pitch, v))
    return notes


def _arpeggio(progression: list[list[int]], key: int, octave: int, step: float, bars: int,
              rng: np.random.Generator, velocity: int = 70) -> list[Note]:
    notes = []
    for bar in range(bars):
        chord = progression[bar % len(progression)]
        tones = [p + 12 * octave + key for p in chord] + [chord[0] + 12 * (octave + 1) + key]
        order = tones + tones[-2:0:-1]
        for i in range(int(4 / step)):
            v = int(np.clip(velocity + rng.integers(-10, 11), 30, 127))
            start = bar * 4 + i * step
            notes.append(Note(start, start + step * 1.5, order[i % len(order)], v))
    return notes


def _bass(progression: list[list[int]], key: int, rhythm: list[tuple[float, float, int]], bars: int,
          rng: np.random.Generator, octave: int = 3, velocity: int = 90) -> list[Note]:
    """``rhythm``: (start, length, chord tone index or 7 for the octave) per bar."""
    notes = []
    for bar in range(bars):
        chord = progression[bar % len(progression)]
        for start, length, tone in rhythm:
            pitch = chord[0] + 12 if tone == 7 else chord[tone % len(chord)]
            v = int(np.clip(velocity + rng.integers(-10, 11), 30, 127))
            notes.append(Note(bar * 4 + start, bar * 4 + start + length, 12 * octave + key + pitch % 24, v))
    return notes


def _walking(progression: list[list[int]], key: int, scale: tuple[int, ...], bars: int,
             rng: np.random.Generator) -> list[Note]:
    notes = []
    for bar in range(bars):
        chord = progression[bar % len(progression)]
        following = progression[(bar + 1) % len(progression)]
        line = [chord[0], chord[rng.integers(1, len(chord))], chord[rng.integers(0, len(chord))],
                following[0] + rng.choice([-1, 1])]
        for beat, pitch in enumerate(line):
            notes.append(Note(bar * 4 + beat, bar * 4 + beat + 0.9, 36 + key + pitch % 12,
                              int(rng.integers(75, 100))))
    return notes


def _melody(scale: tuple[int, ...], key: int, octave: int, bars: int, rng: np.random.Generator,
            durations: tuple[float, ...], rest: float = 0.15, velocity: int = 85) -> list[Note]:
    """A random walk on the scale with the given note lengths (in beats)."""
    notes, degree, time = [], int(rng.integers(0, 7)), 0.0
    while time < bars * 4:
        length = float(rng.choice(durations))
        if rng.random() > rest:
            degree = int(np.clip(degree + rng.choice([-2, -1, -1, 1, 1, 2, 3, -3]), -3, 10))
            pitch = 12 * octave + key + scale[degree % 7] + 12 * (degree // 7)
            notes.append(Note(time, time + length * 0.95, pitch, int(np.clip(velocity + rng.integers(-12, 13), 30, 127))))
        time += length
    return notes


def _progression(rng: np.random.Generator, scale: tuple[int, ...], options: list[list[int]],
                 sevenths: bool = False) -> list[list[int]]:
    degrees = options[int(rng.integers(0, len(options)))]
    return [_triad(scale, d, sevenths) for d in degrees]


# Instruments any style may borrow, so that instrumentation alone does not give the style away.
SHARED_MELODIC = (0, 1, 4, 16, 24, 25, 26, 27, 29, 48, 52, 56, 61, 65, 73, 80, 81, 89)
SHARED_BASS = (32, 33, 34, 35, 38, 39)
BORROW = 0.35  # probability that a part takes an instrument from the shared pool


def _pick(rng: np.random.Generator, programs: tuple[int, ...]) -> int:
    """A program of the style's own set, or (with probability BORROW) one of the shared pool."""
    if rng.random() < BORROW:
        pool = SHARED_BASS if all(32 <= p < 40 for p in programs) else SHARED_MELODIC
        return int(pool[int(rng.integers(0, len(pool)))])
    return int(programs[int(rng.integers(0, len(programs)))])


# Each style: (tempo range in BPM, builder(rng, key, bars) -> parts)
def rock(rng: np.random.Generator, key: int, bars: int) -> list[Part]:
    prog = _progression(rng, MAJOR, [[0, 4, 5, 3], [0, 3, 4, 3], [5, 3, 0, 4], [0, 6, 3, 0]])
    power = [[c[0], c[0] + 7, c[0] + 12] for c in prog]
    hats = [i / 2 for i in range(8)]
    parts = [_drums({"kick": [0, 2.5] if rng.random() < .5 else [0, 2], "snare": [1, 3], "hat": hats}, bars, rng),
             Part(_pick(rng, (29, 30)), _chords(power, key, 4, [(i / 2, 0.45) for i in range(8)], bars, rng, 95)),
             Part(_pick(rng, (33, 34)), _bass(prog, key, [(i / 2, 0.45, 0) for i in range(8)], bars, rng))]
    if rng.random() < 0.5:
        parts.append(Part(_pick(rng, (29, 30, 27)), _melody(MINOR if rng.random() < .3 else MAJOR, key, 5, bars, rng,
                                                            (0.5, 1.0, 0.5, 0.25))))
    return parts


def metal(rng: np.random.Generator, key: int, bars: int) -> list[Part]:
    prog = _progression(rng, MINOR, [[0, 5, 6, 0], [0, 0, 5, 4], [0, 1, 0, 6], [0, 3, 5, 6]])
    power = [[c[0], c[0] + 7] for c in prog]
    sixteenths = [i / 4 for i in range(16)]
    parts = [_drums({"kick": sixteenths, "snare": [1, 3], "crash": [0], "ride": [i / 2 for i in range(8)]}, bars,
                    rng, accent=110, spread=10),
             Part(30, _chords(power, key, 3, [(i / 4, 0.2) for i in range(16)], bars, rng, 105, 8)),
             Part(_pick(rng, (33, 34, 38)), _bass(prog, key, [(i / 4, 0.2, 0) for i in range(16)], bars, rng, 2))]
    if rng.random() < 0.5:
        parts.append(Part(_pick(rng, (30, 29)), _melody(MINOR, key, 5, bars, rng, (0.25, 0.25, 0.5))))
    return parts


def jazz(rng: np.random.Generator, key: int, bars: int) -> list[Part]:
    prog = _progression(rng, MAJOR, [[1, 4, 0, 0], [1, 4, 0, 5], [0, 5, 1, 4], [2, 5, 1, 4]], sevenths=True)
    swing = 1 / 6
    parts = [_drums({"ride": [0, 1, 1.5, 2, 3, 3.5], "pedal": [1, 3]}, bars, rng, swing=swing, accent=75),
             Part(_pick(rng, (32, 32, 33)), _walking(prog, key, MAJOR, bars, rng)),
             Part(_pick(rng, (0, 1, 4, 5)), _chords(prog, key, 4, [(1.5 + swing, 0.4), (3.0, 0.6)]
                                                    if rng.random() < .5 else [(0.0, 1.4), (2.5 + swing, 0.4)],
                                                    bars, rng, 65))]
    if rng.random() < 0.7:
        parts.append(Part(_pick(rng, (65, 66, 56, 57, 0)), _melody(DORIAN, key, 5, bars, rng, (0.5, 0.5, 1.0, 1.5),
                                                                    rest=0.25)))
    return parts


def classical(rng: np.random.Generator, key: int, bars: int) -> list[Part]:
    scale = MAJOR if rng.random() < 0.6 else MINOR
    prog = _progression(rng, scale, [[0, 3, 4, 0], [0, 5, 3, 4], [0, 4, 5, 2], [5, 3, 0, 4]])
    parts = [Part(_pick(rng, (48, 49, 52)), _chords(prog, key, 4, [(0.0, 3.9)], bars, rng, 60, 6)),
             Part(_pick(rng, (40, 41, 73, 68, 71)), _melody(scale, key, 5, bars, rng, (1.0, 0.5, 2.0, 1.0), rest=0.05,
                                                             velocity=75)),
             Part(_pick(rng, (42, 43)), _bass(prog, key, [(0, 2.0, 0), (2, 2.0, 2)], bars, rng, 2, 65))]
    if rng.random() < 0.5:
        parts.append(Part(_pick(rng, (46, 0, 6)), _arpeggio(prog, key, 4, 0.5, bars, rng, 55)))
    return parts


def techno(rng: np.random.Generator, key: int, bars: int) -> list[Part]:
    prog = _progression(rng, MINOR, [[0, 0, 5, 6], [0, 3, 0, 3], [0, 6, 5, 6], [0, 0, 0, 0]])
    parts = [_drums({"kick": [0, 1, 2, 3], "open": [0.5, 1.5, 2.5, 3.5], "clap": [1, 3],
                     "hat": [i / 4 for i in range(16)]}, bars, rng, accent=100, spread=8),
             Part(_pick(rng, (38, 39, 81, 87)), _bass(prog, key, [(i / 4, 0.2, 0 if i % 4 else 7)
                                                                   for i in range(16)], bars, rng, 2, 100)),
             Part(_pick(rng, (88, 89, 90, 91, 94, 95)), _chords(prog, key, 4, [(0.0, 3.9)], bars, rng, 60, 5))]
    if rng.random() < 0.6:
        parts.append(Part(_pick(rng, (80, 81, 84, 62)), _arpeggio(prog, key, 5, 0.25, bars, rng, 70)))
    return parts


def reggae(rng: np.random.Generator, key: int, bars: int) -> list[Part]:
    prog = _progression(rng, MAJOR, [[0, 3, 0, 4], [0, 5, 3, 4], [1, 4, 1, 4], [0, 0, 3, 3]])
    parts = [_drums({"kick": [2], "rim": [2], "hat": [i / 2 for i in range(8)]}, bars, rng, swing=0.08, accent=85),
             Part(_pick(rng, (27, 28, 16, 17)), _chords(prog, key, 4, [(0.5, 0.25), (1.5, 0.25), (2.5, 0.25),
                                                                        (3.5, 0.25)], bars, rng, 80)),
             Part(_pick(rng, (33, 34, 38)), _bass(prog, key, [(0, 0.75, 0), (1.0, 0.4, 2), (1.5, 0.9, 1),
                                                              (3.0, 0.4, 0), (3.5, 0.4, 2)], bars, rng, 2, 100))]
    if rng.random() < 0.5:
        parts.append(Part(_pick(rng, (16, 17, 18)), _chords(prog, key, 4, [(0.75, 0.2), (2.75, 0.2)], bars, rng, 55)))
    return parts


def bossa(rng: np.random.Generator, key: int, bars: int) -> list[Part]:
    prog = _progression(rng, MAJOR, [[0, 1, 4, 0], [1, 4, 0, 5], [0, 3, 1, 4]], sevenths=True)
    parts = [_drums({"rim": [0, 0.75, 1.5, 2.5, 3.25], "shaker": [i / 4 for i in range(16)], "kick": [0, 1.5, 2, 3.5]},
                    bars, rng, accent=70, spread=10),
             Part(_pick(rng, (24, 24, 0, 46)), _chords(prog, key, 4, [(0.0, 0.4), (0.75, 0.4), (1.5, 0.9),
                                                                      (2.5, 0.4), (3.25, 0.6)], bars, rng, 65)),
             Part(_pick(rng, (32, 33)), _bass(prog, key, [(0, 1.4, 0), (1.5, 0.5, 2), (2, 1.4, 2), (3.5, 0.5, 0)],
                                              bars, rng, 2, 85))]
    if rng.random() < 0.7:
        parts.append(Part(_pick(rng, (73, 65, 66, 11)), _melody(MAJOR, key, 5, bars, rng, (0.5, 1.0, 1.5, 0.75),
                                                                 rest=0.2, velocity=70)))
    return parts


def country(rng: np.random.Generator, key: int, bars: int) -> list[Part]:
    prog = _progression(rng, MAJOR, [[0, 3, 4, 0], [0, 0, 3, 4], [0, 4, 3, 0], [0, 3, 0, 4]])
    parts = [_drums({"kick": [0, 2], "snare": [1, 3] if rng.random() < .5 else [1, 3, 3.5],
                     "hat": [i / 2 for i in range(8)]}, bars, rng, accent=80),
             Part(_pick(rng, (25, 25, 24)), _chords(prog, key, 4, [(0, 0.4), (1, 0.4), (1.5, 0.4), (2, 0.4),
                                                                   (3, 0.4), (3.5, 0.4)], bars, rng, 75)),
             Part(_pick(rng, (32, 33)), _bass(prog, key, [(0, 0.9, 0), (1, 0.9, 2), (2, 0.9, 0), (3, 0.9, 2)],
                                              bars, rng, 2, 90))]
    if rng.random() < 0.7:
        parts.append(Part(_pick(rng, (105, 110, 22, 25)), _melody(MAJOR, key, 5, bars, rng, (0.5, 0.25, 0.25, 1.0),
                                                                   rest=0.1)))
    return parts


STYLES: dict[str, tuple[tuple[int, int], Callable[[np.random.Generator, int, int], list[Part]]]] = {
    "bossa": ((105, 150), bossa), "classical": ((60, 130), classical), "country": ((90, 150), country),
    "jazz": ((100, 200), jazz), "metal": ((130, 200), metal), "reggae": ((60, 95), reggae),
    "rock": ((90, 150), rock), "techno": ((115, 140), techno),
}
DROP_DRUMS = 0.2  # probability that a piece has no drums (a verse, an intro): rhythm alone does not decide


def piece(style: str, index: int, seed: int, seconds: float) -> object:
    """A ``pretty_midi.PrettyMIDI`` of ``style`` lasting at least ``seconds`` (drawn from (style, index, seed))."""
    import pretty_midi

    (low, high), build = STYLES[style]
    rng = np.random.default_rng([sorted(STYLES).index(style), index, seed])
    tempo = float(rng.uniform(low, high))
    key = int(rng.integers(0, 12)) - 6  # -6..5 semitones around C, so registers stay usual
    beats = seconds * tempo / 60.0
    bars = int(np.ceil(beats / 4)) + 1
    midi = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    seconds_per_beat = 60.0 / tempo
    jitter = 0.008  # seconds of timing variation, as a player's
    parts = build(rng, key, bars)
    if rng.random() < DROP_DRUMS:
        parts = [part for part in parts if not part.drums]
    for part in parts:
        instrument = pretty_midi.Instrument(program=part.program, is_drum=part.drums)
        for note in part.notes:
            start = max(0.0, note.start * seconds_per_beat + float(rng.normal(0, jitter)))
            end = max(start + 0.03, note.end * seconds_per_beat)
            instrument.notes.append(pretty_midi.Note(velocity=int(note.velocity), pitch=int(np.clip(note.pitch, 21, 108)),
                                                     start=start, end=end))
        midi.instruments.append(instrument)
    return midi
