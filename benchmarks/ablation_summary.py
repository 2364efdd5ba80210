"""Summarise ``mirplug ablate`` / ``mirplug sweep`` folders: per arm, the metric's mean and 95% CI and
how long the classifier trained (epochs and optimizer steps).

Training length matters as much as the augmentation at 5 clips per class: one epoch of 30 clips
is a single optimizer step at batch size 32, so an arm that adds 120 synthetic clips also trains
five times as many steps. This table puts the two side by side.

    python benchmarks/ablation_summary.py SWEEP_FOLDER [SWEEP_FOLDER ...] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

from mirplug.sweep import t_interval


def summary(folder: Path, batch_size: int) -> list[dict[str, str]]:
    """One row per arm of the sweep in ``folder`` (its ``runs.csv``)."""
    with open(folder / "runs.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    metric = next(k for k in rows[0] if k not in {"arm", "seed", "accuracy", "n_train", "epochs_run",
                                                  "optimizer_steps", "duration_seconds", "folder", "overrides"})
    table = []
    for arm in dict.fromkeys(row["arm"] for row in rows):
        mine = [row for row in rows if row["arm"] == arm]
        mean, low, high = t_interval([float(row[metric]) for row in mine])
        # recorded since optimizer steps were logged; else estimated from epochs and training windows
        steps = [float(row["optimizer_steps"]) if row.get("optimizer_steps") else
                 float(row["epochs_run"]) * math.ceil(int(row["n_train"]) / batch_size) for row in mine]
        table.append({"arm": "real only" if arm in ("", "augmenter=") else arm, "n": str(len(mine)),
                      metric: f"{mean:.3f} [{low:.3f}, {high:.3f}]" if not math.isnan(low) else f"{mean:.3f}",
                      "epochs": f"{sum(float(r['epochs_run']) for r in mine) / len(mine):.0f}",
                      "optimizer steps": f"{sum(steps) / len(steps):.0f}",
                      "train clips": f"{sum(int(r['n_train']) for r in mine) / len(mine):.0f}"})
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--batch-size", type=int, default=32, help="train.batch_size of the runs")
    args = parser.parse_args()
    for folder in args.folders:
        table = summary(folder, args.batch_size)
        print(f"\n{folder}\n")
        print("| " + " | ".join(table[0]) + " |")
        print("|---" * len(table[0]) + "|")
        for row in table:
            print("| " + " | ".join(row.values()) + " |")


if __name__ == "__main__":
    main()
