"""Time the default run (``mirplug run task=genre``) against a reference commit measured in the same run.

The reference is checked out into a temporary ``git worktree`` and run with the same virtual
environment (its ``mirplug`` and ``mirplug_builtin`` come first on ``PYTHONPATH``), so both sides use
the same packages, machine and moment. Per repeat and side, interleaved (reference, current,
reference, ...):

* **cold**: an empty ``MIRPLUG_CACHE_DIR``: the synthetic dataset is generated, decoded and turned
  into features, then the model trains;
* **warm**: the same command again on the filled cache (what a second run, or a rerun with another
  seed, costs: the model still trains from scratch).

It prints wall and CPU seconds (user + system of the run's process tree) per phase, the minimum over
the repeats (the machine is shared: the minimum is the least disturbed run), the ratios
current / reference, the load average before and after, and whether both sides gave the same results
(``metrics.json``, ``predictions.csv``, ``history.csv`` and ``model.safetensors``, byte for byte).
Both source trees are byte-compiled first, so neither side pays for compiling its modules.

    python benchmarks/speed.py [--reference COMMIT] [--repeats 3] [--phases cold,warm] [OVERRIDE ...]

Extra overrides go to both sides (e.g. ``train.epochs=2`` for a quick check). Compare only runs made with
the same thread count: numbers differ between thread counts, not between commits at one thread count.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the last commit before the training-loop speed work of issue 17 (item 7)
REFERENCE = "6516bf0"
COMPARED = ("predictions.csv", "history.csv", "model.safetensors")
TIMING_KEYS = {"duration_seconds", "seconds", "wall_seconds", "started"}


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True).stdout.strip()


def load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(source: Path | None, cache: Path, out: Path, overrides: list[str]) -> tuple[float, float, Path]:
    """One ``mirplug run task=genre``; returns wall seconds, CPU seconds and the run folder."""
    env = {**os.environ, "MIRPLUG_CACHE_DIR": str(cache)}
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(source), str(source / "plugins"), env.get("PYTHONPATH", "")])
    out.mkdir(parents=True, exist_ok=True)
    command = [str(Path(sys.executable).with_name("mirplug")), "run", "task=genre", *overrides, f"out={out}"]
    before_cpu, started = children_cpu(), time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - started, children_cpu() - before_cpu
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return wall, cpu, folder


def results_of(folder: Path) -> dict[str, object]:
    metrics = json.loads((folder / "metrics.json").read_text())
    metrics = {k: v for k, v in metrics.items() if k not in TIMING_KEYS}
    return {"metrics": metrics, **{name: (folder / name).read_bytes() for name in COMPARED if (folder / name).exists()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", default=REFERENCE, help=f"commit to compare with (default {REFERENCE})")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--phases", default="cold,warm", help="cold, warm or both (comma-separated)")
    parser.add_argument("overrides", nargs="*", help="more overrides for both sides, e.g. train.threads=1")
    args = parser.parse_args()
    phases = [p for p in args.phases.split(",") if p]
    if not set(phases) <= {"cold", "warm"}:
        raise SystemExit("--phases takes cold and/or warm")
    current = git("rev-parse", "--short", "HEAD") + ("+changes" if git("status", "--porcelain", "--untracked-files=no")
                                                     else "")
    reference = git("rev-parse", "--short", args.reference)
    work = Path(tempfile.mkdtemp(prefix="mirplug-speed-"))
    tree = work / "reference"
    git("worktree", "add", "--detach", str(tree), reference)
    for source in (tree, ROOT):
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(source / "mirplug"), str(source / "plugins")],
                       check=True, capture_output=True)
    sides = {"reference": tree, "current": None}
    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    outputs: dict[tuple[str, str], list[dict[str, object]]] = {}
    print(f"mirplug run task=genre {' '.join(args.overrides)}".rstrip())
    print(f"reference {reference}, current {current}, {args.repeats} repeats, python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs; load average before: {load()}", flush=True)
    try:
        for repeat in range(args.repeats):
            for side, source in sides.items():
                cache = work / f"cache-{side}-{repeat}"
                for phase in ["cold", "warm"]:
                    if phase not in phases and not (phase == "cold" and "warm" in phases):
                        continue
                    # a warm run needs the cache filled: the cold run does it (and is timed only when asked)
                    wall, cpu, folder = run_once(source, cache, work / f"runs-{side}-{repeat}-{phase}", args.overrides)
                    if phase in phases:
                        times.setdefault((side, phase), []).append((wall, cpu))
                        outputs.setdefault((side, phase), []).append(results_of(folder))
                        print(f"  {side:9s} {phase} #{repeat + 1}: {wall:6.1f} s wall, {cpu:6.1f} s CPU "
                              f"(load {load()})", flush=True)
                shutil.rmtree(cache, ignore_errors=True)
    finally:
        git("worktree", "remove", "--force", str(tree))
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average after: {load()}\n")
    print("| phase | reference wall (min) | current wall (min) | ratio wall | reference CPU (min) | "
          "current CPU (min) | ratio CPU |")
    print("|---|---|---|---|---|---|---|")
    for phase in phases:
        ref_wall = min(w for w, _ in times[("reference", phase)])
        cur_wall = min(w for w, _ in times[("current", phase)])
        ref_cpu = min(c for _, c in times[("reference", phase)])
        cur_cpu = min(c for _, c in times[("current", phase)])
        print(f"| {phase} | {ref_wall:.1f} s | {cur_wall:.1f} s | {cur_wall / ref_wall:.2f} | {ref_cpu:.1f} s | "
              f"{cur_cpu:.1f} s | {cur_cpu / ref_cpu:.2f} |")
    print()
    for phase in phases:
        reference_results = outputs[("reference", phase)][0]
        same = all(results == reference_results for side in sides for results in outputs[(side, phase)])
        metrics = reference_results["metrics"]
        assert isinstance(metrics, dict)
        current_metrics = outputs[("current", phase)][0]["metrics"]
        assert isinstance(current_metrics, dict)
        main_keys = [k for k in ("macro_f1", "accuracy") if k in metrics]
        print(f"{phase}: results identical on both sides and every repeat: {'yes' if same else 'NO'} "
              f"(reference {', '.join(f'{k} {metrics[k]:.4f}' for k in main_keys)}; current "
              f"{', '.join(f'{k} {current_metrics[k]:.4f}' for k in main_keys)})")


if __name__ == "__main__":
    main()
