"""Rerun one run of a regenerated grid on its own (``mirplug run``) and compare its files byte for byte.

The run's overrides come from the sweep's ``runs.csv``; the environment is the grid's
(``OMP_NUM_THREADS=1 MKL_NUM_THREADS=1``, ``MIRPLUG_CACHE_DIR`` as set, or a fresh empty cache
folder with ``--cold``, so the dataset is generated and any generator fitted again). The verdict
is appended to ``benchmarks/results/NAME/spot_check.md``.

    python benchmarks/spot_check.py NAME SWEEP_FOLDER ARM SEED [--cold] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import filecmp
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from regenerate_results import RESULTS, THREADS

COMPARED = ("metrics.json", "predictions.csv", "history.csv", "quality.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the results folder, e.g. genre_k5")
    parser.add_argument("sweep", type=Path, help="the sweep folder the grid ran in")
    parser.add_argument(
        "arm", help="the arm exactly as in runs.csv, e.g. 'augmenter=vae augmenter.per_class=20'"
    )
    parser.add_argument("seed")
    parser.add_argument("--cold", action="store_true", help="run with a fresh, empty MIRPLUG_CACHE_DIR")
    parser.add_argument(
        "--out", type=Path, default=Path("sweeps/spot_check"), help="where the rerun's folder goes"
    )
    args = parser.parse_args()
    with open(args.sweep / "runs.csv", newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["arm"] == args.arm and r["seed"] == args.seed)
    name = f"{Path(row['folder']).name}-{'cold' if args.cold else 'warm'}-{time.strftime('%H%M%S')}"
    env = {**os.environ, **THREADS}
    cache = (
        tempfile.mkdtemp(prefix="mirplug-cold-cache-")
        if args.cold
        else env.get("MIRPLUG_CACHE_DIR", "(default)")
    )
    if args.cold:
        env["MIRPLUG_CACHE_DIR"] = cache
    command = ["mirplug", "run", *shlex.split(row["overrides"]), f"out={args.out}", f"name={name}"]
    print(" ".join(f"{k}={v}" for k, v in THREADS.items()), shlex.join(command), flush=True)
    started = time.time()
    subprocess.run(
        [str(Path(sys.executable).with_name("mirplug")), *command[1:]],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    seconds = time.time() - started
    if args.cold:
        shutil.rmtree(cache, ignore_errors=True)  # the fresh cache folder was only for this rerun
    grid_run, rerun = args.sweep / row["folder"], args.out / name
    verdicts = []
    for file in COMPARED:
        if (grid_run / file).exists() or (rerun / file).exists():
            same = (
                (grid_run / file).exists()
                and (rerun / file).exists()
                and filecmp.cmp(grid_run / file, rerun / file, shallow=False)
            )
            verdicts.append(f"{file} {'identical' if same else 'DIFFERS'}")
    grid_metrics = json.loads((grid_run / "metrics.json").read_text())
    rerun_metrics = json.loads((rerun / "metrics.json").read_text())
    facts = json.loads((rerun / "run.json").read_text())
    reused = [g["augmenter"] for g in facts.get("generators", []) if g.get("reused_from_cache")]
    fitted = [g["augmenter"] for g in facts.get("generators", []) if not g.get("reused_from_cache")]
    line = (
        f"- `{row['overrides']}` rerun alone ({'cold: fresh cache folder' if args.cold else 'warm cache'}"
        f"{'; generator fitted again: ' + ', '.join(fitted) if fitted else ''}"
        f"{'; generator read from the cache: ' + ', '.join(reused) if reused else ''}; {seconds:.0f} s): "
        f"macro-F1 {rerun_metrics['macro_f1']:.4f} vs {grid_metrics['macro_f1']:.4f} in the grid; "
        f"{', '.join(verdicts)}."
    )
    print(line)
    target = RESULTS / args.name / "spot_check.md"
    header = (
        ""
        if target.exists()
        else (
            f"# Determinism spot check ({args.name})\n\nRuns of the grid rerun on their own with `python "
            f"benchmarks/spot_check.py`: `mirplug run` with the run's overrides from `runs.csv`, "
            f"{', '.join(f'{k}={v}' for k, v in THREADS.items())}, files compared byte for byte "
            "with the grid's run folder.\n\n"
        )
    )
    with open(target, "a") as handle:
        handle.write(header + line + "\n")


if __name__ == "__main__":
    main()
