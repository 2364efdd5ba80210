"""``mirplug ablate``: does augmentation help? Real only vs real + the given augmenters vs real + classical.

Every arm runs on the same splits and seeds (the sweep machinery), and each augmented arm is
compared with real-only *paired by seed*: the table reports the mean difference of the main
metric and its 95% confidence interval (t-distribution), so an interval that contains zero
says the augmentation made no measurable difference.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from rich.console import Console
from rich.markup import escape

from mirplug.catalog import Catalog
from mirplug.config import parse_overrides
from mirplug.errors import ConfigError
from mirplug.rundir import write_csv
from mirplug.stats import t_interval
from mirplug.sweep import REPLICATE_KEY, expand, run_sweep

if TYPE_CHECKING:
    from mirplug.engines import EngineSettings

CLASSICAL = "gain,timeshift,specaugment"
AUGMENTING_KEYS = ("augmenter", "train.mixup_alpha")  # what an --arm must set: an augmenter, or mixup


def arms_for(overrides: Sequence[str], classical: str, extra_arms: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """Split the overrides into the common ones and the arms: real only, each augmented arm, classical.

    The ``augmenter`` keys among ``overrides`` form one augmented arm; every ``extra_arms``
    entry (a space-separated group such as ``"augmenter=gan augmenter.per_class=20"``) is another.
    """
    common, augmented = [], []
    for key, value in parse_overrides(overrides):
        if key == "augmenter" or key.startswith("augmenter."):
            augmented.append(f"{key}={value}")
        else:
            common.append(f"{key}={value}")
    groups = [" ".join(augmented)] if augmented else []
    for arm in extra_arms:
        keys = [key for key, _ in parse_overrides(arm.split())]
        if not any(key in AUGMENTING_KEYS for key in keys):
            raise ConfigError(f"ablation arm '{arm}' names no augmenter (nor train.mixup_alpha); e.g. "
                              f"--arm \"augmenter=gan augmenter.per_class=20\" or --arm train.mixup_alpha=0.2")
        groups.append(" ".join(arm.split()))
    if not groups or not any(part.startswith("augmenter=") for part in groups[0].split()):
        raise ConfigError("mirplug ablate needs the augmenter to evaluate, e.g. augmenter=vae augmenter.per_class=20")
    arms = ["augmenter=", *groups]
    if classical:
        arms.append(f"augmenter={classical}")
    return common, arms


def paired_differences(rows: list[dict[str, Any]], arms: list[str], metric: str,
                       swept: Sequence[str]) -> list[dict[str, Any]]:
    """Per augmented arm and cell: mean difference to real-only over seeds, with its 95% CI.

    Rows pair up by the ``swept`` keys (the seed and any other comma-list key of the grid).
    """
    by_key: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for row in rows:
        cell = tuple(sorted((k, str(row[k])) for k in swept))
        by_key[(row["arm"], cell)] = float(row[metric])
    table = []
    for arm in arms[1:]:
        cells: dict[tuple[tuple[str, str], ...], list[float]] = {}
        for (row_arm, cell), value in by_key.items():
            if row_arm != arm:
                continue
            base = by_key.get((arms[0], cell))
            if base is not None:
                key = tuple((k, v) for k, v in cell if k != REPLICATE_KEY)
                cells.setdefault(key, []).append(value - base)
        for key, diffs in cells.items():
            mean, low, high = t_interval(diffs)
            table.append({"arm": arm, **dict(key), "metric": metric, "n_seeds": len(diffs),
                          "mean_difference": round(mean, 4), "ci95_low": round(low, 4) if not math.isnan(low) else "",
                          "ci95_high": round(high, 4) if not math.isnan(high) else ""})
    return table


def training_length_note(rows: list[dict[str, Any]], arms: list[str]) -> str:
    """A warning when the arms trained for very different numbers of optimizer steps, or real only for few.

    Synthetic clips enlarge the training split, so at the same epochs and patience an augmented
    arm also takes more optimizer steps; with few labels the real-only arm may stop after a
    handful, and the measured "gain" is partly training length (see benchmarks/results/README.md).
    """
    from mirplug.training import FEW_STEPS

    steps: dict[str, list[float]] = {}
    for row in rows:
        if row.get("optimizer_steps") not in (None, ""):
            steps.setdefault(row["arm"], []).append(float(row["optimizer_steps"]))
    means = {arm: sum(values) / len(values) for arm, values in steps.items() if values}
    if arms[0] not in means or len(means) < 2:
        return ""
    real, most = means[arms[0]], max(means.values())
    if real >= FEW_STEPS and most <= 3 * max(real, 1.0):
        return ""
    listed = ", ".join(f"{'real only' if arm == arms[0] else arm}: {value:.0f}" for arm, value in means.items())
    return (f"Note: the arms trained for different numbers of optimizer steps (mean over seeds; {listed}). "
            f"Part of a difference may be training length, not the augmentation: give every arm enough "
            f"training (e.g. train.min_steps=300, or train.epochs=200 train.patience=40) and compare again.")


def run_ablation(catalog: Catalog, overrides: Sequence[str], classical: str = CLASSICAL, out: str = "sweeps",
                 console: Console | None = None, extra_arms: Sequence[str] = (),
                 resume: str | Path | None = None,
                 engine: EngineSettings | None = None) -> tuple[Path, list[dict[str, Any]]]:
    """Run the arms over the seeds and write ``ablation.csv``, ``ablation.md`` and ``ablation.png``.

    ``resume``: the folder of an interrupted ablation with the same command (finished runs are kept);
    ``engine``: ``engine=ray`` runs each grid point as a Ray task (see :func:`mirplug.sweep.run_sweep`).
    """
    console = console or Console(stderr=True)
    common, arms = arms_for(overrides, classical, extra_arms)
    folder, summary = run_sweep(catalog, common, arms, out, console, resume, engine)
    with open(folder / "runs.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    metric = str(summary[0]["metric"])
    table = paired_differences(rows, arms, metric, expand(common, arms)[1])
    write_csv(folder / "ablation.csv", table)
    lines = [f"| arm | {' | '.join(k for k in table[0] if k not in ('arm', 'metric'))} |" if table else "",
             "|---" * (len(table[0]) - 1) + "|" if table else ""]
    for row in table:
        lines.append("| " + " | ".join(str(v) for k, v in row.items() if k != "metric") + " |")
    text = f"Difference in {metric} against real only (paired by seed; mean and 95% CI)\n\n" + "\n".join(lines)
    note = training_length_note(rows, arms)
    if note:
        text += "\n\n" + note
    (folder / "ablation.md").write_text(text + "\n")
    _plot(folder / "ablation.png", table, metric)
    console.print(escape(text), highlight=False, soft_wrap=True)
    return folder, table


def _plot(path: Path, table: list[dict[str, Any]], metric: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [" ".join(f"{k}={v}" for k, v in row.items() if k not in ("metric", "n_seeds", "mean_difference",
                                                                        "ci95_low", "ci95_high")) for row in table]
    means = [row["mean_difference"] for row in table]
    errors = [[m - row["ci95_low"] if row["ci95_low"] != "" else 0 for m, row in zip(means, table)],
              [row["ci95_high"] - m if row["ci95_high"] != "" else 0 for m, row in zip(means, table)]]
    figure, axes = plt.subplots(figsize=(8, 0.6 * len(table) + 1.5))
    axes.barh(range(len(table)), means, xerr=errors, color="tab:blue", capsize=4)
    axes.axvline(0.0, color="grey", linestyle="--")
    axes.set_yticks(range(len(table)), labels, fontsize=8)
    axes.set_xlabel(f"{metric}: augmented minus real only (95% CI)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
