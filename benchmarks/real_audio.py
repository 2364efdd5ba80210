"""A real-audio genre benchmark: procedural MIDI in 8 styles, rendered by fluidsynth through real SoundFonts.

The test split is rendered with a SoundFont that no training clip uses, so it is scored on instrument
timbres unseen in training (as a collection recorded elsewhere would be). Nothing here is synthetic
audio in the sense of ``data=synthetic``: every note is a sampled recording of a real instrument from a
General MIDI SoundFont shipped by Debian.

Build (deterministic: the same arguments give byte-identical WAV files; ``build.json`` records every
file's SHA-256 and the SoundFonts' hashes)::

    apt-get install -y fluidsynth fluid-soundfont-gm timgm6mb-soundfont musescore-general-soundfont-small
    python benchmarks/real_audio.py build DIR            # DIR/train/<style>/*.wav, DIR/test/<style>/*.wav

* styles: bossa, classical, country, jazz, metal, reggae, rock, techno (``real_audio_midi.py``: tempo,
  drum pattern, bass line, chord rhythm and voicing, melody, General MIDI instruments per part, all drawn
  per piece from ``numpy.random.default_rng([style, index, seed])``; a part borrows an instrument from a pool
  shared by all styles with probability 0.35 and a piece has no drums with probability 0.2, so neither
  instrumentation nor the drum pattern alone gives the style away);
* train: ``--train`` pieces per style (default 20), half rendered with FluidR3_GM (MIT) and half with
  MuseScore_General_Lite (MIT), each piece with one SoundFont only (so a validation split carved from
  train never holds another rendering of a training piece);
* test: ``--test`` other pieces per style (default 16) rendered with TimGM6mb (GPL-2.0), the held-out
  SoundFont;
* each clip: ``--seconds`` (default 6) of mono audio at 22050 Hz, 16-bit, peak level drawn between -12
  and -1 dBFS, 20 ms fade-out.

The audio is not committed (only this script and the results). Run the comparison with
``python benchmarks/real_audio.py run DIR`` (see ``real_benchmark.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from real_audio_midi import STYLES, piece  # noqa: E402

SAMPLE_RATE = 22050
SOUNDFONTS = {
    "fluidr3": ["/usr/share/sounds/sf2/FluidR3_GM.sf2"],
    "musescore": ["/usr/share/sounds/sf3/MuseScore_General_Lite.sf3", "/usr/share/sounds/sf3/MuseScore_General.sf3"],
    "timgm6mb": ["/usr/share/sounds/sf2/TimGM6mb.sf2"],
}
TRAIN_FONTS = ("fluidr3", "musescore")
TEST_FONT = "timgm6mb"
APT_HINT = "apt-get install -y fluidsynth fluid-soundfont-gm timgm6mb-soundfont musescore-general-soundfont-small"


def soundfont(name: str) -> Path:
    """The installed file of SoundFont ``name``; a missing one stops the build with the apt command."""
    for candidate in SOUNDFONTS[name]:
        if Path(candidate).is_file():
            return Path(candidate)
    raise SystemExit(f"SoundFont {name} not found ({', '.join(SOUNDFONTS[name])}); install it: {APT_HINT}")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


GAP_SECONDS = 2.0  # silence between pieces rendered in one pass, for the reverb tail to die away
TICKS_PER_SECOND = 960  # 480 ticks per beat at MIDI's default 120 BPM


def sequence(pieces: list[object], seconds: float) -> object:
    """One ``mido.MidiFile`` playing ``pieces`` (``pretty_midi.PrettyMIDI``) one after another.

    Piece ``k`` starts at ``k * (seconds + GAP_SECONDS)``; each piece's instruments get channels of their
    own (drums on channel 10), with their program set at the piece's start and every note stopped after
    it, so a SoundFont is loaded once for a whole batch of pieces.
    """
    import mido

    events: list[tuple[int, int, object]] = []  # (tick, order, message): note-offs before note-ons at a tick
    for k, midi in enumerate(pieces):
        offset = k * (seconds + GAP_SECONDS)
        melodic = iter([c for c in range(16) if c != 9])
        used = []
        for instrument in midi.instruments:  # type: ignore[attr-defined]
            channel = 9 if instrument.is_drum else next(melodic)
            used.append(channel)
            events.append((round(offset * TICKS_PER_SECOND), 0,
                           mido.Message("program_change", channel=channel, program=instrument.program)))
            for note in instrument.notes:
                if note.start >= seconds + 0.5:
                    continue
                on = round((offset + note.start) * TICKS_PER_SECOND)
                off = max(on + 1, round((offset + min(note.end, seconds + 0.5)) * TICKS_PER_SECOND))
                events.append((on, 2, mido.Message("note_on", channel=channel, note=note.pitch, velocity=note.velocity)))
                events.append((off, 1, mido.Message("note_off", channel=channel, note=note.pitch, velocity=0)))
        stop = round((offset + seconds + 0.6) * TICKS_PER_SECOND)
        for channel in used:
            events.append((stop, 1, mido.Message("control_change", channel=channel, control=123, value=0)))
            events.append((stop, 1, mido.Message("control_change", channel=channel, control=121, value=0)))
    events.sort(key=lambda event: (event[0], event[1]))
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
    now = 0
    for tick, _, message in events:
        track.append(message.copy(time=tick - now))  # type: ignore[attr-defined]
        now = tick
    end = round((len(pieces) * (seconds + GAP_SECONDS)) * TICKS_PER_SECOND)
    track.append(mido.MetaMessage("end_of_track", time=max(0, end - now)))
    result = mido.MidiFile(ticks_per_beat=480)
    result.tracks.append(track)
    return result


def render(font: str, jobs: list[tuple[str, int, Path]], seconds: float, seed: int, scratch: Path) -> None:
    """Render the pieces ``(style, index, target)`` through SoundFont ``font`` in one fluidsynth pass and
    write each as a mono clip of ``seconds``, levelled to a peak drawn per clip."""
    import soundfile

    midi_path, wav_path = scratch / f"{font}.mid", scratch / f"{font}.wav"
    sequence([piece(style, index, seed, seconds + 1.0) for style, index, _ in jobs], seconds).save(str(midi_path))
    # -n no MIDI input, -i no shell, -q quiet; chorus and reverb stay on (as the SoundFont's player would)
    completed = subprocess.run(["fluidsynth", "-n", "-i", "-q", "-r", str(SAMPLE_RATE), "-g", "0.5", "-F",
                                str(wav_path), str(soundfont(font)), str(midi_path)], capture_output=True, text=True)
    if completed.returncode != 0 or not wav_path.is_file():
        raise SystemExit(f"fluidsynth failed on {midi_path}: {completed.stderr.strip()[:300]}")
    audio, rate = soundfile.read(str(wav_path), dtype="float64", always_2d=True)
    assert rate == SAMPLE_RATE
    audio = audio.mean(axis=1)
    length = int(seconds * SAMPLE_RATE)
    for k, (style, index, target) in enumerate(jobs):
        start = int(round(k * (seconds + GAP_SECONDS) * SAMPLE_RATE))
        mono = audio[start:start + length]
        mono = np.pad(mono, (0, length - len(mono)))
        rng = np.random.default_rng([sorted(STYLES).index(style), index, seed, 7])
        peak = 10 ** (rng.uniform(-12.0, -1.0) / 20)
        mono = mono / max(np.abs(mono).max(), 1e-6) * peak
        fade = int(0.02 * SAMPLE_RATE)
        mono[-fade:] *= np.linspace(1.0, 0.0, fade)
        target.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(target), mono.astype(np.float32), SAMPLE_RATE, subtype="PCM_16")


def plan(train: int, test: int) -> list[tuple[str, str, int, str]]:
    """(split, style, piece index, SoundFont) of every clip."""
    jobs = []
    for style in sorted(STYLES):
        for index in range(train):
            jobs.append(("train", style, index, TRAIN_FONTS[index % len(TRAIN_FONTS)]))
        for index in range(train, train + test):
            jobs.append(("test", style, index, TEST_FONT))
    return jobs


def build(folder: Path, train: int, test: int, seconds: float, seed: int, workers: int) -> None:
    """Render every clip into ``folder`` (audiofolder layout with train/ and test/) and write ``build.json``."""
    if shutil.which("fluidsynth") is None:
        raise SystemExit(f"fluidsynth is not installed; {APT_HINT}")
    fonts = {name: soundfont(name) for name in (*TRAIN_FONTS, TEST_FONT)}
    jobs = plan(train, test)
    folder.mkdir(parents=True, exist_ok=True)

    written = []
    batches: dict[str, list[tuple[str, int, Path]]] = {}
    for split, style, index, font in jobs:
        target = folder / split / style / f"{style}-{index:03d}-{font}.wav"
        written.append(str(target.relative_to(folder)))
        batches.setdefault(font, []).append((style, index, target))

    def one(font: str) -> None:
        with tempfile.TemporaryDirectory() as scratch:
            render(font, batches[font], seconds, seed, Path(scratch))

    with ThreadPoolExecutor(workers) as pool:  # fluidsynth runs as separate processes
        list(pool.map(one, sorted(batches)))
    facts = {"builder": "benchmarks/real_audio.py", "seed": seed, "seconds": seconds, "sample_rate": SAMPLE_RATE,
             "train_per_style": train, "test_per_style": test, "styles": sorted(STYLES),
             "train_soundfonts": {name: {"file": str(fonts[name]), "sha256": sha256(fonts[name])}
                                  for name in TRAIN_FONTS},
             "test_soundfont": {TEST_FONT: {"file": str(fonts[TEST_FONT]), "sha256": sha256(fonts[TEST_FONT])}},
             "fluidsynth": subprocess.run(["fluidsynth", "--version"], capture_output=True,
                                          text=True).stdout.splitlines()[0],
             "files": {path: sha256(folder / path) for path in written}}
    (folder / "build.json").write_text(json.dumps(facts, indent=1, sort_keys=True) + "\n")
    print(f"{len(written)} clips in {folder} ({train} train and {test} test pieces per style, {seconds:g} s each)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    builder = commands.add_parser("build", help="render the benchmark into a folder")
    builder.add_argument("folder", type=Path)
    builder.add_argument("--train", type=int, default=20, help="training pieces per style")
    builder.add_argument("--test", type=int, default=16, help="test pieces per style (held-out SoundFont)")
    builder.add_argument("--seconds", type=float, default=6.0, help="length of each clip")
    builder.add_argument("--seed", type=int, default=0)
    builder.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    runner = commands.add_parser("run", help="run the comparison on a built folder (see real_benchmark.py)")
    runner.add_argument("folder", type=Path)
    runner.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "build":
        build(args.folder, args.train, args.test, args.seconds, args.seed, args.workers)
    else:
        from real_benchmark import main as run_main

        run_main([str(args.folder), *args.rest])


if __name__ == "__main__":
    main()
