"""Do the torch-audiomentations augmenters and mixup help on real audio? One ``mirplug ablate`` grid.

On the real-audio benchmark of ``benchmarks/real_audio.py`` (test clips rendered with a SoundFont no
training clip uses, so an augmentation that makes the model robust to timbre and recording should
show), log-mel + CNN from scratch (the model of ``mirplug run task=genre``; augmenters that change the audio
every epoch need a model trained in the loop, not the probe that recordings get by default),
five seeds, every arm on the same splits and seeds, paired differences against real only with 95 % CIs:

* real only; ``classical`` (gain, timeshift, specaugment: ablate's default classical arm);
* ``timbre``: pitch_shift, lowpass, highpass, bandpass, colored_noise, impulse_response, gain and
  polarity_inversion together (each with its default probability 0.5);
* mixup (``train.mixup_alpha=0.2``);
* each family alone: impulse_response; the three filters; colored_noise; pitch_shift.

Every arm trains 30 epochs and keeps its best validation epoch (``train.patience=30``): with the default
patience a noisy validation split stops the augmented arms first, and the comparison would measure
training length (as ``benchmarks/results/README.md`` found for the generators).

The impulse responses are made here (``--irs``, deterministic): eight synthetic rooms (see
:func:`write_rooms`); they are ours, so free to use. Usage::

    python benchmarks/real_audio.py build DIR
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python benchmarks/augment_ablation.py DIR [--out SWEEPS] [--resume FOLDER]

The ablation folder (``ablation.md``, ``ablation.csv``, ``runs.csv``) is copied to
``benchmarks/results/augment_real/`` with ``regenerate.json`` (command, environment, wall time).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "augment_real"
SEEDS = "0,1,2,3,4"
TIMBRE = "pitch_shift,lowpass,highpass,bandpass,colored_noise,impulse_response,gain,polarity_inversion"
IR_RATE = 22050


def write_rooms(folder: Path, count: int = 8, seed: int = 0) -> Path:
    """``count`` synthetic room impulse responses as WAV files in ``folder`` (the same files every time).

    Each: a direct path, four early reflections (3 to 30 ms, -4 to -14 dB) and a diffuse tail of
    exponentially decaying, low-passed noise (RT60 from 0.15 to 1.2 s, geometric), scaled to a
    direct-to-reverberant ratio drawn from -3 to +9 dB (a listener a few metres from the source).
    """
    import soundfile

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index, rt60 in enumerate(np.geomspace(0.15, 1.2, count)):
        length = int(IR_RATE * min(1.5, 1.2 * rt60 + 0.05))
        time_axis = np.arange(length) / IR_RATE
        noise = rng.standard_normal(length)
        alpha = np.exp(-2 * np.pi * float(rng.uniform(2000, 8000)) / IR_RATE)  # walls absorb the highs
        for n in range(1, length):
            noise[n] += alpha * noise[n - 1]
        tail = noise * np.exp(-6.9 * time_axis / rt60)  # -60 dB at rt60
        drr_db = float(rng.uniform(-3.0, 9.0))
        tail *= np.sqrt(10 ** (-drr_db / 10) / np.sum(tail ** 2))  # direct path energy 1
        delay = int(IR_RATE * rng.uniform(0.002, 0.01))
        response = np.zeros(length)
        response[delay:] = tail[: length - delay]
        response[delay] = 1.0  # the direct path
        for _ in range(4):
            at = delay + int(IR_RATE * rng.uniform(0.003, 0.03))
            response[at] += 10 ** (-float(rng.uniform(4, 14)) / 20) * float(rng.choice([-1, 1]))
        response /= np.max(np.abs(response))
        soundfile.write(folder / f"room{index}-rt{rt60:.2f}-drr{drr_db:+.0f}.wav", response.astype(np.float32),
                        IR_RATE)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a folder built by benchmarks/real_audio.py build")
    parser.add_argument("--out", type=Path, default=Path("sweeps"))
    parser.add_argument("--irs", type=Path, default=None, help="where the impulse responses go (default OUT/irs)")
    parser.add_argument("--resume", default=None, help="an interrupted ablation folder to continue")
    parser.add_argument("--seeds", default=SEEDS)
    args = parser.parse_args()
    irs = write_rooms(args.irs or args.out / "irs")
    ir = f"augmenter.impulse_response.path={irs}"
    command = [
        "mirplug", "ablate", "task=genre", "data=audiofolder", f"data.path={args.data}", f"seed={args.seeds}",
        # one training budget for every arm: 30 epochs, the best validation epoch kept (early stopping on a
        # noisy validation split would otherwise stop augmented arms first and measure training length)
        "train.epochs=30", "train.patience=30",
        "representation=mel", "backbone=cnn",  # augmenters need the model in the loop (not the recordings' probe)
        f"augmenter={TIMBRE}", ir,
        "--arm", "train.mixup_alpha=0.2",
        "--arm", f"augmenter=impulse_response {ir}",
        "--arm", "augmenter=lowpass,highpass,bandpass",
        "--arm", "augmenter=colored_noise",
        "--arm", "augmenter=pitch_shift",
        "--classical", "gain,timeshift,specaugment",
        "--out", str(args.out),
    ]
    if args.resume:
        command += ["--resume", args.resume]
    print(" ".join(command), flush=True)
    before = set(args.out.iterdir()) if args.out.is_dir() else set()
    started = time.time()
    subprocess.run([str(Path(sys.executable).with_name("mirplug")), *command[1:]], check=True)
    wall = time.time() - started
    folder = Path(args.resume) if args.resume else max(set(args.out.iterdir()) - before - {irs},
                                                         key=lambda p: p.stat().st_mtime)
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name in ("ablation.md", "ablation.csv", "runs.csv", "ablation.png"):
        if (folder / name).exists():
            shutil.copy2(folder / name, RESULTS / name)
    build = json.loads((args.data / "build.json").read_text()) if (args.data / "build.json").exists() else {}
    (RESULTS / "regenerate.json").write_text(json.dumps({
        "command": " ".join(command), "wall_seconds": round(wall, 1), "resumed": bool(args.resume),
        "environment": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS") if k in os.environ},
        "cpus": os.cpu_count(), "load_average_after": os.getloadavg(),
        "commit": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                                 text=True).stdout.strip(),
        "data_build": {k: v for k, v in build.items() if k != "files"},
    }, indent=2) + "\n")
    print(f"copied {folder} -> {RESULTS}")


if __name__ == "__main__":
    main()
