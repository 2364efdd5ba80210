"""Regenerate a comparison of ``benchmarks/results/``: one ``mirplug sweep`` grid, then the files it quotes.

Every comparison the results README makes is between arms of ONE grid (same seeds, same splits,
same real clips, same initialisation), run by one ``mirplug sweep`` command with
``OMP_NUM_THREADS=1 MKL_NUM_THREADS=1`` (the same command and thread count give the same numbers).
The run folders (WAVs, weights) go to ``--runs-dir`` and are not committed; the folder
``benchmarks/results/NAME/`` gets what the README quotes:

- ``runs.csv``, ``learning_curve.{csv,md,png}``, ``sweep.json``: written by ``mirplug sweep``;
- ``per_run.csv``: one row per run, read from its ``metrics.json`` and ``run.json`` (optimizer steps
  as measured, generator train-on-synthetic/train-on-real accuracy and fit time, the rarest
  style's F1 and recall where the comparison is about imbalance);
- ``paired_differences.csv``: each arm minus its reference arm, paired by seed (and the other swept
  keys), mean and 95% CI (``mirplug.ablate.paired_differences``);
- ``summary.md``: the command, environment and wall time, the per-arm table (mean and 95% CI via
  ``mirplug.sweep.t_interval``) and the paired differences;
- ``regenerate.json``: the command, environment and wall time as data.

    python benchmarks/regenerate_results.py genre_k5 [--runs-dir DIR] [--resume SWEEP_FOLDER]
    python benchmarks/regenerate_results.py genre_k5 --summarize SWEEP_FOLDER   # files only, no runs

Set ``MIRPLUG_CACHE_DIR`` to a folder of its own to keep other work's cache out (fitted generators
are cached by training clips, fit options and seed, so arms that differ only in sampling reuse a fit).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import math
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
SEEDS = "seed=0,1,2,3,4"
LONG = "train.epochs=200 train.patience=40"
CLASSICAL = "augmenter=gain,timeshift,specaugment"
THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# what mirplug sweep writes into its folder and we keep (the run folders stay out of git)
SWEEP_FILES = ("runs.csv", "learning_curve.csv", "learning_curve.md", "learning_curve.png", "sweep.json")
OWN_FILES = ("per_run.csv", "paired_differences.csv", "summary.md", "regenerate.json")


@dataclass(frozen=True)
class Group:
    """Arms compared with one reference arm, paired by seed."""

    title: str
    reference: str
    arms: tuple[str, ...]


@dataclass(frozen=True)
class Comparison:
    """One results folder: the grid (common overrides and arms) and how its arms are compared."""

    overrides: tuple[str, ...]
    arms: tuple[str, ...]
    groups: tuple[Group, ...]
    labels: dict[str, str]
    rarest_class: bool = False  # report the rarest style's F1 and recall (data.imbalance)
    spectrograms: dict[str, str] = field(default_factory=dict)  # arm -> generator name: keep seed 0's grid


def _k5() -> Comparison:
    vae20, gan20 = "augmenter=vae augmenter.per_class=20", "augmenter=gan augmenter.per_class=20"
    arms = {
        "augmenter=": "real only",
        vae20: "+ 20 VAE clips per class",
        gan20: "+ 20 GAN clips per class",
        CLASSICAL: "+ gain, timeshift, specaugment",
        "augmenter=vae augmenter.per_class=5": "+ 5 VAE clips per class",
        "augmenter=vae augmenter.per_class=50": "+ 50 VAE clips per class",
        f"{vae20} augmenter.filter_confidence=0.5": "+ 20 VAE per class, filter_confidence=0.5",
        f"{vae20} augmenter.steps=250": "+ 20 VAE per class, VAE trained 250 steps",
        f"{gan20} augmenter.filter_confidence=0.5": "+ 20 GAN per class, filter_confidence=0.5",
        "augmenter= train.min_steps=300": "real only, train.min_steps=300",
        f"augmenter= {LONG}": "real only, long training",
        f"{vae20} {LONG}": "+ 20 VAE clips per class, long training",
        f"{gan20} {LONG}": "+ 20 GAN clips per class, long training",
        f"{CLASSICAL} {LONG}": "+ gain, timeshift, specaugment, long training",
    }
    names = list(arms)
    return Comparison(
        overrides=("task=genre", "data.per_class=5", SEEDS),
        arms=tuple(names),
        groups=(
            Group(
                "Default training (at most 30 epochs, patience 6)", "augmenter=", (vae20, gan20, CLASSICAL)
            ),
            Group("Factors (default training)", "augmenter=", tuple(names[4:9]) + (vae20, gan20)),
            # each factor against the arm it changes one thing of, so the factor itself is measured
            Group("VAE factors (default training)", vae20, tuple(names[4:8])),
            Group("GAN factor (default training)", gan20, (names[8],)),
            Group(f"Long training ({LONG})", f"augmenter= {LONG}", tuple(names[11:14])),
            Group(
                "Training length, real only",
                "augmenter=",
                ("augmenter= train.min_steps=300", f"augmenter= {LONG}"),
            ),
        ),
        labels=arms,
        spectrograms={vae20: "vae", gan20: "gan"},
    )


def _imbalance10() -> Comparison:
    vae = "augmenter=vae augmenter.balance=true augmenter.min_clips_per_class=2"
    gan = "augmenter=gan augmenter.balance=true augmenter.min_clips_per_class=2"
    arms = {
        "augmenter=": "real only",
        vae: "+ VAE, balanced",
        gan: "+ GAN, balanced",
        CLASSICAL: "+ gain, timeshift, specaugment",
    }
    arms.update({f"{arm} {LONG}": f"{label}, long training" for arm, label in list(arms.items())})
    names = list(arms)
    return Comparison(
        overrides=("task=genre", "data.imbalance=10", SEEDS),
        arms=tuple(names),
        groups=(
            Group("Default training (at most 30 epochs, patience 6)", names[0], tuple(names[1:4])),
            Group(f"Long training ({LONG})", names[4], tuple(names[5:8])),
            Group("Training length, real only", names[0], (names[4],)),
        ),
        labels=arms,
        rarest_class=True,
    )


def _transfer() -> Comparison:
    arms = {
        "backbone=musicnn backbone.layer=pool": "musicnn (pool), frozen, linear head",
        "backbone=cnn": "CNN from scratch (log-mel)",
        "representation=mfcc backbone=mlp": "MFCC + MLP",
        "backbone=musicnn backbone.head=centroid": "musicnn (pool), frozen, nearest-centroid head",
    }
    names = list(arms)
    return Comparison(
        overrides=("task=genre", "data.per_class=5,10,20", SEEDS),
        arms=tuple(names),
        groups=(
            Group("Against the CNN trained from scratch", "backbone=cnn", (names[0], names[3], names[2])),
        ),
        labels=arms,
    )


COMPARISONS = {"genre_k5": _k5(), "genre_imbalance10": _imbalance10(), "transfer_genre": _transfer()}


def sweep_command(comparison: Comparison, out: Path, resume: Path | None) -> list[str]:
    """The one ``mirplug sweep`` command of ``comparison``."""
    command = ["mirplug", "sweep", *comparison.overrides]
    for arm in comparison.arms:
        command += ["--arm", arm]
    command += ["--out", str(out)]
    if resume is not None:
        command += ["--resume", str(resume)]
    return command


def run_grid(name: str, comparison: Comparison, runs_dir: Path, resume: Path | None) -> Path:
    """Run the grid (progress on stderr as mirplug prints it) and return its sweep folder."""
    out = runs_dir / name
    out.mkdir(parents=True, exist_ok=True)
    before = {p for p in out.iterdir() if p.is_dir()}
    command = sweep_command(comparison, out, resume)
    env = {**os.environ, **THREADS}
    mirplug = Path(sys.executable).with_name("mirplug")
    printable = " ".join(f"{k}={v}" for k, v in THREADS.items()) + " " + shlex.join(command)
    print(f"[{name}] {printable}", flush=True)
    print(f"[{name}] MIRPLUG_CACHE_DIR={os.environ.get('MIRPLUG_CACHE_DIR', '(default)')}", flush=True)
    started = time.time()
    # mirplug prints one line per finished run on stderr (passed through); the per-run results
    # tables on stdout are dropped
    completed = subprocess.run(
        [str(mirplug) if mirplug.exists() else "mirplug", *command[1:]],
        env=env,
        stdout=subprocess.DEVNULL,
        check=False,
    )
    wall = time.time() - started
    folder = resume if resume is not None else _new_folder(out, before)
    print(
        f"[{name}] mirplug sweep exited {completed.returncode} after {_duration(wall)} wall time", flush=True
    )
    if folder is None:
        raise SystemExit(f"[{name}] mirplug sweep wrote no sweep folder under {out}")
    facts_file = folder / "regenerate.json"
    facts = json.loads(facts_file.read_text()) if facts_file.is_file() else {"invocations": []}
    facts["command"] = printable.replace(f" --resume {resume}", "") if resume else printable
    facts["environment"] = {**THREADS, "MIRPLUG_CACHE_DIR": os.environ.get("MIRPLUG_CACHE_DIR", "")}
    facts["invocations"].append(
        {
            "started": datetime.datetime.fromtimestamp(started, datetime.timezone.utc).isoformat(
                timespec="seconds"
            ),
            "wall_seconds": round(wall, 1),
            "resumed": resume is not None,
            "exit_code": completed.returncode,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "commit": _git_commit(),
        }
    )
    facts_file.write_text(json.dumps(facts, indent=2) + "\n")
    if completed.returncode != 0:
        raise SystemExit(f"[{name}] the sweep failed; rerun with --resume {folder}")
    return folder


def _new_folder(out: Path, before: set[Path]) -> Path | None:
    new = [p for p in out.iterdir() if p.is_dir() and p not in before and (p / "sweep.json").is_file()]
    return max(new, key=lambda p: p.stat().st_mtime) if new else None


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _duration(seconds: float) -> str:
    return (
        f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"
        if seconds >= 3600
        else f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    )


def per_run(folder: Path, comparison: Comparison) -> list[dict[str, Any]]:
    """One row per run of the sweep folder, from each run folder's metrics.json and run.json."""
    with open(folder / "runs.csv", newline="") as handle:
        runs = list(csv.DictReader(handle))
    swept = list(runs[0])[1 : list(runs[0]).index("macro_f1")]  # the sweep writes arm, swept keys, metric
    generators = sorted(
        {
            g["augmenter"]
            for run in runs
            for g in json.loads((folder / run["folder"] / "metrics.json").read_text()).get("generators", [])
        }
    )
    rows = []
    for run in runs:
        metrics = json.loads((folder / run["folder"] / "metrics.json").read_text())
        facts = json.loads((folder / run["folder"] / "run.json").read_text())
        row: dict[str, Any] = {
            "arm": run["arm"],
            **{key: run[key] for key in swept},
            "macro_f1": metrics["macro_f1"],
            "accuracy": metrics["accuracy"],
            "optimizer_steps": metrics["optimizer_steps"],
            "epochs_run": metrics["epochs_run"],
            "best_epoch": metrics["best_epoch"],
            "n_train": metrics["n_train"],
            "n_synthetic": metrics.get("n_synthetic", 0),
            "n_validation": metrics["n_validation"],
            "n_test": metrics["n_test"],
        }
        if comparison.rarest_class:
            # data.imbalance keeps all clips of the first label, 1/ratio of the last (mirplug.data.imbalance)
            rarest = metrics["labels"][-1]
            scores = metrics["per_class"][rarest]
            row.update(
                {
                    "rarest_class": rarest,
                    "rarest_f1": scores["f1"],
                    "rarest_recall": scores["recall"],
                    "rarest_precision": scores["precision"],
                }
            )
        reports = {g["augmenter"]: g for g in metrics.get("generators", [])}
        fits = {g["augmenter"]: g for g in facts.get("generators", [])}
        for name in generators:
            report, fit = reports.get(name, {}), fits.get(name, {})
            row.update(
                {
                    f"{name}_tstr_accuracy": report.get("tstr_accuracy", ""),
                    f"{name}_trtr_accuracy": report.get("trtr_accuracy", ""),
                    f"{name}_sampled": report.get("sampled", ""),
                    f"{name}_kept": report.get("kept", ""),
                    f"{name}_fit_steps": report.get("training", {}).get("steps", ""),
                    # fitted in this run, or read from the cache (then the time is the original fit's)
                    f"{name}_fit_seconds": fit.get("fit_seconds", "")
                    if fit and not fit.get("reused_from_cache")
                    else "",
                    f"{name}_reused_from_cache": bool(fit.get("reused_from_cache")) if fit else "",
                }
            )
        row.update({"threads": metrics.get("threads"), "duration_seconds": facts.get("duration_seconds")})
        rows.append(row)
    return rows


def _interval(values: Sequence[float], digits: int = 3) -> str:
    from mirplug.stats import t_interval

    mean, low, high = t_interval(list(values))
    return (
        f"{mean:.{digits}f}"
        if math.isnan(low)
        else f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"
    )


def _signed(mean: float, low: Any, high: Any) -> str:
    return f"{mean:+.3f}" if low == "" else f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]"


def _mean(values: Sequence[Any], digits: int = 0) -> str:
    numbers = [float(v) for v in values if v not in ("", None)]
    return f"{sum(numbers) / len(numbers):.{digits}f}" if numbers else ""


def arm_table(
    rows: list[dict[str, Any]], comparison: Comparison, cell_keys: list[str]
) -> list[dict[str, str]]:
    """Per arm (and cell of the other swept keys): mean and 95% CI over seeds, and training length."""
    generators = sorted(
        {key[: -len("_tstr_accuracy")] for row in rows for key in row if key.endswith("_tstr_accuracy")}
    )
    cells: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        cells.setdefault((row["arm"], *(str(row[k]) for k in cell_keys)), []).append(row)
    table = []
    for cell, mine in cells.items():
        entry = {
            "arm": comparison.labels.get(cell[0], cell[0]),
            **dict(zip(cell_keys, cell[1:])),
            "n": str(len(mine)),
            "macro-F1 [95% CI]": _interval([r["macro_f1"] for r in mine]),
            "accuracy": _mean([r["accuracy"] for r in mine], 3),
            "optimizer steps": _mean([r["optimizer_steps"] for r in mine]),
            "epochs": _mean([r["epochs_run"] for r in mine]),
            "train clips": _mean([r["n_train"] for r in mine]),
        }
        if comparison.rarest_class:
            entry["rarest F1 [95% CI]"] = _interval([r["rarest_f1"] for r in mine])
            entry["rarest recall [95% CI]"] = _interval([r["rarest_recall"] for r in mine])
        for name in generators:
            if any(r[f"{name}_kept"] != "" for r in mine):
                entry[f"{name} kept"] = _mean([r[f"{name}_kept"] for r in mine])
                entry[f"{name} TSTR / TRTR acc."] = (
                    f"{_mean([r[f'{name}_tstr_accuracy'] for r in mine], 3)} / "
                    f"{_mean([r[f'{name}_trtr_accuracy'] for r in mine], 3)}"
                )
                fitted = [r[f"{name}_fit_seconds"] for r in mine if r[f"{name}_fit_seconds"] != ""]
                entry[f"{name} fit s (fits here)"] = (
                    f"{_mean(fitted)} ({len(fitted)})" if fitted else "cached (0)"
                )
        table.append(entry)
    return table


def differences(rows: list[dict[str, Any]], comparison: Comparison, swept: list[str]) -> list[dict[str, Any]]:
    """Each group's arms minus its reference arm, paired by the swept keys (the seed and any other)."""
    from mirplug.ablate import paired_differences

    metrics = ["macro_f1"] + (["rarest_f1", "rarest_recall"] if comparison.rarest_class else [])
    steps: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        steps.setdefault((row["arm"], "|".join(str(row[k]) for k in swept if k != "seed")), []).append(
            float(row["optimizer_steps"])
        )
    table = []
    for group in comparison.groups:
        for metric in metrics:
            for entry in paired_differences(rows, [group.reference, *group.arms], metric, swept):
                cell = "|".join(str(entry[k]) for k in swept if k != "seed")
                mine, base = steps[(entry["arm"], cell)], steps[(group.reference, cell)]
                table.append(
                    {
                        "group": group.title,
                        "arm": entry["arm"],
                        "reference": group.reference,
                        **{k: entry[k] for k in swept if k != "seed"},
                        "metric": metric,
                        "n_seeds": entry["n_seeds"],
                        "mean_difference": entry["mean_difference"],
                        "ci95_low": entry["ci95_low"],
                        "ci95_high": entry["ci95_high"],
                        "optimizer_steps": round(sum(mine) / len(mine)),
                        "reference_optimizer_steps": round(sum(base) / len(base)),
                    }
                )
    return table


def markdown_table(rows: list[dict[str, str]]) -> list[str]:
    """Dict rows as a markdown table: the union of their keys as columns, blank where a row lacks one."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    return [
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
        *("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in rows),
    ]


def small_png(source: Path, target: Path) -> None:
    """A copy of a plot at 3/4 size with a 256-colour palette (about 160 kB instead of 850 kB)."""
    from PIL import Image

    with Image.open(source) as image:
        smaller = image.convert("RGB").resize((image.width * 3 // 4, image.height * 3 // 4), Image.LANCZOS)
        smaller.quantize(256).save(target, optimize=True)


def write_results(name: str, comparison: Comparison, folder: Path, target: Path) -> None:
    """Copy the sweep's own files; write per_run.csv, paired_differences.csv, summary.md, regenerate.json."""
    from mirplug.rundir import write_csv

    # replace what this script wrote before; keep the rest (spot_check.md from benchmarks/spot_check.py)
    target.mkdir(parents=True, exist_ok=True)
    for old in [*SWEEP_FILES, *OWN_FILES, *(p.name for p in target.glob("spectrograms_*_seed0.png"))]:
        (target / old).unlink(missing_ok=True)
    for file in SWEEP_FILES:
        shutil.copy2(folder / file, target / file)
    rows = per_run(folder, comparison)
    write_csv(target / "per_run.csv", rows)
    swept = list(rows[0])[1 : list(rows[0]).index("macro_f1")]
    cell_keys = [k for k in swept if k != "seed"]
    facts = json.loads((folder / "regenerate.json").read_text())
    facts["n_runs"] = len(rows)
    facts["wall_seconds"] = round(sum(i["wall_seconds"] for i in facts["invocations"]), 1)
    facts["sum_of_run_seconds"] = round(sum(float(r["duration_seconds"]) for r in rows), 1)
    facts["torch_threads"] = sorted({r["threads"] for r in rows})
    (target / "regenerate.json").write_text(json.dumps(facts, indent=2) + "\n")
    for arm, generator in comparison.spectrograms.items():
        run = next(
            r
            for r in csv.DictReader(open(folder / "runs.csv", newline=""))
            if r["arm"] == arm and r["seed"] == "0"
        )
        small_png(
            folder / run["folder"] / f"spectrograms_{generator}.png",
            target / f"spectrograms_{generator}_seed0.png",
        )
    diffs = differences(rows, comparison, swept)
    write_csv(target / "paired_differences.csv", diffs)

    lines = [
        f"# {name}",
        "",
        f"Written by `python benchmarks/regenerate_results.py {name}` from one grid of "
        f"{len(rows)} runs, made with:",
        "",
        f"    {facts['command']}",
        "",
        f"Wall time {_duration(facts['wall_seconds'])} ({len(facts['invocations'])} invocation(s); "
        f"the runs themselves {_duration(facts['sum_of_run_seconds'])}), CPU, "
        f"{', '.join(f'{k}={v}' for k, v in THREADS.items())} (torch threads per run: "
        f"{', '.join(map(str, facts['torch_threads']))}), {facts['invocations'][-1]['cpus']} CPU cores "
        "shared "
        f"with other work, commit {facts['invocations'][-1]['commit'][:10]}.",
        "",
        f"Cells are over the seeds {', '.join(sorted({str(r['seed']) for r in rows}))}: mean and 95% "
        "t-interval. Optimizer steps and epochs are "
        "the measured means; train clips include the synthetic clips kept. TSTR / TRTR: the generator "
        "report's train-on-synthetic / train-on-real test accuracy (logistic regression on pooled "
        "log-mel). Fit s: mean seconds of the generator fits made in this grid (the other runs read the "
        "fitted generator from the cache). Every number is in `per_run.csv`.",
        "",
        "## Per arm",
        "",
        *markdown_table(arm_table(rows, comparison, cell_keys)),
        "",
    ]
    for group in comparison.groups:
        mine = [d for d in diffs if d["group"] == group.title]
        lines += [
            f"## {group.title}: difference against {comparison.labels.get(group.reference, group.reference)}",
            "",
            "Paired by seed"
            + (f" and {', '.join(cell_keys)}" if cell_keys else "")
            + "; mean and 95% CI of the difference; optimizer steps: arm vs reference (means).",
            "",
        ]
        table = [
            {
                "arm": comparison.labels.get(d["arm"], d["arm"]),
                **{k: str(d[k]) for k in cell_keys},
                "metric": d["metric"],
                "difference [95% CI]": _signed(d["mean_difference"], d["ci95_low"], d["ci95_high"]),
                "optimizer steps": f"{d['optimizer_steps']} vs {d['reference_optimizer_steps']}",
            }
            for d in mine
        ]
        lines += [*markdown_table(table), ""]
    lines += [
        "## Arms as given to mirplug sweep",
        "",
        *(f"- {comparison.labels.get(arm, arm)}: `{arm}`" for arm in comparison.arms),
        "",
    ]
    (target / "summary.md").write_text("\n".join(lines))
    print(f"[{name}] wrote {target} ({len(rows)} runs)", flush=True)
    print((target / "summary.md").read_text(), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "names", nargs="+", choices=sorted(COMPARISONS), help="the results folders to regenerate"
    )
    parser.add_argument(
        "--runs-dir",
        type=Path,
        default=Path("sweeps/regenerate"),
        help="where the sweep folders (run folders, WAVs, weights; not committed) go",
    )
    parser.add_argument("--resume", type=Path, help="sweep folder of an interrupted grid (one name only)")
    parser.add_argument(
        "--summarize",
        type=Path,
        help="write the results files from this finished sweep folder without running (one name)",
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder holding the results folders")
    args = parser.parse_args()
    if (args.resume or args.summarize) and len(args.names) != 1:
        parser.error("--resume and --summarize take one comparison name")
    started = time.time()
    for name in args.names:
        comparison = COMPARISONS[name]
        folder = args.summarize or run_grid(name, comparison, args.runs_dir, args.resume)
        write_results(name, comparison, folder, args.results / name)
    print(f"done in {_duration(time.time() - started)} wall time", flush=True)


if __name__ == "__main__":
    main()
