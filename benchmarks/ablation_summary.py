"""Summarise ``mirplug ablate`` / ``mirplug sweep`` folders: per arm, the metric's mean and 95% CI and
how long the classifier trained (epochs and optimizer steps).

Training length matters as much as the augmentation at 5 clips per class: one epoch of 30 clips
is a single optimizer step at batch size 32, so an arm that adds 120 synthetic clips also trains
five times as many steps. This table puts the two side by side.

Optimizer steps are shown only as measured (the ``optimizer_steps`` column of ``runs.csv``, written
since mirplug counts them). They are never estimated from epochs: early stopping, skipped
single-example batches and ``train.min_steps`` make any estimate wrong. An arm with a run that
lacks the count gets "not recorded"; rerun the grid to measure it.

    python benchmarks/ablation_summary.py SWEEP_FOLDER [SWEEP_FOLDER ...]
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

from mirplug.stats import t_interval
from mirplug.sweep import REPLICATE_KEY

NOT_RECORDED = "not recorded"


def metric_of(rows: list[dict[str, str]]) -> str:
    """The main metric's column: the sweep writes ``arm``, the swept keys, the metric, then ``accuracy``."""
    columns = list(rows[0])
    return columns[columns.index("accuracy") - 1]


def summary(folder: Path) -> list[dict[str, str]]:
    """One row per arm (and value of any other swept key) of the sweep in ``folder`` (its ``runs.csv``)."""
    with open(folder / "runs.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    metric = metric_of(rows)
    columns = list(rows[0])
    cell_keys = [key for key in columns[1 : columns.index(metric)] if key != REPLICATE_KEY]
    cells: dict[tuple[str, ...], list[dict[str, str]]] = {}
    for row in rows:
        cells.setdefault((row["arm"], *(row[k] for k in cell_keys)), []).append(row)
    table = []
    for cell, mine in cells.items():
        mean, low, high = t_interval([float(row[metric]) for row in mine])
        measured = [row.get("optimizer_steps", "") for row in mine]
        steps = (
            f"{sum(float(s) for s in measured) / len(measured):.0f}"
            if all(s not in ("", None) for s in measured)
            else NOT_RECORDED
        )
        table.append(
            {
                "arm": "real only" if cell[0] in ("", "augmenter=") else cell[0],
                **dict(zip(cell_keys, cell[1:])),
                "n": str(len(mine)),
                metric: f"{mean:.3f} [{low:.3f}, {high:.3f}]" if not math.isnan(low) else f"{mean:.3f}",
                "epochs": f"{sum(float(r['epochs_run']) for r in mine) / len(mine):.0f}",
                "optimizer steps": steps,
                "train clips": f"{sum(int(r['n_train']) for r in mine) / len(mine):.0f}",
            }
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    args = parser.parse_args()
    for folder in args.folders:
        table = summary(folder)
        print(f"\n{folder}\n")
        print("| " + " | ".join(table[0]) + " |")
        print("|---" * len(table[0]) + "|")
        for row in table:
            print("| " + " | ".join(row.values()) + " |")
        if any(row["optimizer steps"] == NOT_RECORDED for row in table):
            print(
                f"\noptimizer steps '{NOT_RECORDED}': runs.csv lacks them for some runs (made before mirplug "
                f"counted them); they are not estimated. Rerun the grid to measure them."
            )


if __name__ == "__main__":
    main()
