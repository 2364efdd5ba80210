"""Benchmark: growing past one machine, everything measured in one run on this machine.

1. **Memory against data.** ``mirplug run task=genre`` on the synthetic dataset at 1x, 4x and 16x the clips
   (``data.clips_per_class``; clips of ``--seconds`` cut into 3 s windows, ``train.epochs=1``), each a
   fresh process whose peak resident memory (``ru_maxrss``) is read when it ends. A first run at each
   size generates the clips and caches their features (cold); the second reads them back (warm):
   training, validation and test then read features from the cache a batch at a time, so the warm
   peak should barely move with the data (goal: at most 1.3x from 1x to 16x). The size of the cached
   features is printed too: what one in-memory tensor per split would have added.
2. **Extraction.** ``mirplug extract`` of one audio folder into an empty cache: in this process
   (decoding threads, the default) against ``engine=ray`` with 1 and 2 workers (a local Ray started by
   the command: its start-up is part of the time, as a user would see it).
3. **Grids.** ``mirplug sweep`` of ``--sweep-seeds`` runs in process against ``engine=ray engine.workers=2``.

Every measurement is a subprocess with its own cache folder (``MIRPLUG_CACHE_DIR``) under a temporary
folder. The load average is printed before and after each part: on a shared machine it says how far
the wall times can be trusted (ratios measured in the same minutes are the robust part).

    python benchmarks/scale.py [--base 6] [--seconds 30] [--scales 1,4,16] [--extract-files 64]
                               [--sweep-seeds 4] [--skip memory,extract,sweep] [--reference-mirplug CMD]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIRPLUG = str(Path(sys.executable).parent / "mirplug")


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"


def measured(command: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run ``command``; (wall seconds, peak RSS in MiB of that process, its stdout). Fails loudly."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{stderr[-3000:]}")
    peak = usage.ru_maxrss // 1024 if sys.platform != "darwin" else usage.ru_maxrss // (1 << 20)
    return seconds, peak, stdout


def folder_mib(path: Path, pattern: str) -> float:
    return sum(f.stat().st_size for f in path.glob(pattern)) / (1 << 20)


def memory(base: int, seconds: float, scales: list[int], root: Path, reference: str | None = None) -> None:
    print(f"\n1. peak memory of mirplug run task=genre against the data ({load()})")
    print(f"   data=synthetic data.clips_per_class={base}*scale data.seconds={seconds:g} (6 styles), 3 s windows "
          f"(data.max_windows=10), train.epochs=1 backbone.channels=8")
    rows = []
    for scale in scales:
        env = {**os.environ, "MIRPLUG_CACHE_DIR": str(root / f"memory-{scale}x")}
        command = [MIRPLUG, "run", "task=genre", f"data.clips_per_class={base * scale}", f"data.seconds={seconds:g}",
                   "train.epochs=1", "backbone.channels=8", f"out={root / 'runs'}"]
        cold_seconds, cold_peak, _ = measured(command, env)
        warm_seconds, warm_peak, _ = measured(command, env)
        other = measured([reference, *command[1:]], env)[1] if reference else 0  # the same cache, warm
        features = folder_mib(root / f"memory-{scale}x" / "features", "mel-*/*.safetensors")
        rows.append((scale, cold_peak, warm_peak, features, other))
        print(f"   {scale:>3}x: {6 * base * scale:6d} clips, cached features {features:8.1f} MiB; peak RSS cold "
              f"{cold_peak:6d} MiB ({cold_seconds:6.1f} s), warm {warm_peak:6d} MiB ({warm_seconds:6.1f} s)"
              + (f"; reference mirplug warm {other:6d} MiB" if reference else ""))
    first = rows[0]
    for scale, cold, warm, features, other in rows[1:]:
        print(f"   {scale}x / {first[0]}x: features {features / max(first[3], 1e-9):.1f}x, peak RSS warm "
              f"{warm / first[2]:.2f}x, cold {cold / first[1]:.2f}x"
              + (f"; reference mirplug warm {other / first[4]:.2f}x" if reference else ""))
    print(f"   ({load()})")


def write_audio_folder(folder: Path, files: int, seconds: float) -> float:
    import soundfile

    from mirplug_builtin.datasets.synth import STYLES, generate_clip

    total = 0.0
    for index in range(files):
        samples, _ = generate_clip(index % len(STYLES), 0, index, seconds, 16000)
        path = folder / f"style{index % 2}" / f"clip{index:03d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(path), samples, 16000)
        total += len(samples) / 16000
    return total


def extraction(files: int, seconds: float, root: Path) -> None:
    audio = root / "audio"
    minutes = write_audio_folder(audio, files, seconds) / 60
    print(f"\n2. mirplug extract, {files} files, {minutes:.1f} min of audio, representation=mel, empty cache each "
          f"({load()})")
    results = {}
    for name, extra in (("in-process (decoding threads)", []), ("engine=ray, 1 worker", ["engine=ray", "engine.workers=1"]),
                        ("engine=ray, 2 workers", ["engine=ray", "engine.workers=2"])):
        cache = root / f"extract-{len(results)}"
        env = {**os.environ, "MIRPLUG_CACHE_DIR": str(cache)}
        wall, _, out = measured([MIRPLUG, "extract", "data=audiofolder", f"data.path={audio}", "representation=mel",
                                 *extra], env)
        inside = float(re.search(r"in ([\d.]+) s", out).group(1))  # type: ignore[union-attr]
        results[name] = (wall, inside)
        computed = re.search(r"\((\d+) computed", out).group(1)  # type: ignore[union-attr]
        print(f"   {name:<31} {wall:6.1f} s wall ({inside:6.1f} s in extract: {files / inside:6.2f} clips/s, "
              f"{minutes * 60 / inside:6.0f}x realtime), {computed} computed")
        shutil.rmtree(cache)
    reference = results["in-process (decoding threads)"][0]
    for name, (wall, _) in results.items():
        print(f"   {name:<31} throughput {reference / wall:.2f}x in-process (wall, start-up included)")
    print(f"   ({load()})")


def sweep(seeds: int, root: Path) -> None:
    grid = ["task=genre", "data.clips_per_class=12", "data.seconds=2.0", "data.clip_seconds=2.0", "train.epochs=3",
            "backbone.channels=8", f"seed={','.join(str(s) for s in range(seeds))}"]
    print(f"\n3. mirplug sweep of {seeds} runs ({' '.join(grid)}) ({load()})")
    env = {**os.environ, "MIRPLUG_CACHE_DIR": str(root / "sweep-cache")}
    measured([MIRPLUG, "run", *grid[:-1], "train.epochs=1", f"out={root / 'warmup'}"], env)  # dataset generated once
    walls = {}
    for name, extra in (("in-process", []), ("engine=ray engine.workers=2", ["engine=ray", "engine.workers=2"])):
        wall, _, _ = measured([MIRPLUG, "sweep", *grid, *extra, "--out", str(root / f"sweep-{len(walls)}")], env)
        walls[name] = wall
        print(f"   {name:<28} {wall:6.1f} s wall")
    ratio = walls["in-process"] / walls["engine=ray engine.workers=2"]
    print(f"   Ray with 2 workers: {ratio:.2f}x the in-process speed ({load()})")


def code_version() -> str:
    """The commit the measured mirplug comes from (``git describe --always --dirty``), so an output names its code."""
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], cwd=Path(__file__).parent, text=True,
                              capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", type=int, default=6, help="clips per style at 1x")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each synthetic clip")
    parser.add_argument("--scales", default="1,4,16")
    parser.add_argument("--extract-files", type=int, default=64)
    parser.add_argument("--extract-seconds", type=float, default=30.0)
    parser.add_argument("--sweep-seeds", type=int, default=4)
    parser.add_argument("--skip", default="", help="comma list of parts to skip: memory, extract, sweep")
    parser.add_argument("--reference-mirplug", default=None,
                        help="another mirplug command (e.g. an older checkout's .venv/bin/mirplug, which holds each "
                             "split's features in one tensor) whose warm peak memory is measured on the same cache")
    args = parser.parse_args()
    skip = {part.strip() for part in args.skip.split(",") if part.strip()}
    print(f"benchmarks/scale.py on {os.cpu_count()} CPUs; {load()}; OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}; code {code_version()}")
    with tempfile.TemporaryDirectory(prefix="mirplug-scale-") as folder:
        root = Path(folder)
        if "memory" not in skip:
            memory(args.base, args.seconds, [int(s) for s in args.scales.split(",")], root, args.reference_mirplug)
        if "extract" not in skip:
            extraction(args.extract_files, args.extract_seconds, root)
        if "sweep" not in skip:
            sweep(args.sweep_seeds, root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
