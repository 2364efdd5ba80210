"""Sweeps: run a grid of configurations in-process and summarise them as a learning-curve table.

``mirplug sweep task=genre backbone=musicnn data.per_class=1,5,10,20 seed=0,1,2,3,4`` expands
every comma list (except ``augmenter=``, whose commas choose several augmenters) into the
cartesian product. ``seed`` is the replicate axis: each cell of the table is the mean of
the test metric over the seeds with a 95 % confidence interval from the t-distribution.
Several *arms* (e.g. ``backbone=musicnn`` vs ``representation=mfcc backbone=mlp``) share
one grid and one table. The sweep folder holds ``runs.csv`` (one row per run),
``learning_curve.csv``, ``learning_curve.md``, ``learning_curve.png`` and the run folders.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from mirplug.catalog import Catalog
from mirplug.config import LISTED, RunConfig, parse_overrides, resolve
from mirplug.errors import ConfigError
from mirplug.rundir import CONFIG_FILE, RUN_FACTS_FILE, new_run_folder, write_csv
from mirplug.stats import t_interval

if TYPE_CHECKING:
    from mirplug.engines import EngineSettings

REPLICATE_KEY = "seed"
GRID_FILE = "sweep.json"  # the overrides and arms of a sweep folder, checked by --resume


@dataclass(frozen=True)
class GridPoint:
    """One run of the sweep: its arm, the values of the swept keys, and its full overrides."""

    arm: str
    values: tuple[tuple[str, str], ...]
    overrides: tuple[str, ...]


def _expands(key: str, value: str) -> bool:
    return "," in value and key not in LISTED  # augmenter=gain,noise and logger=a,b are lists, not sweeps


def expand(overrides: Sequence[str], arms: Sequence[str] = ()) -> tuple[list[GridPoint], list[str]]:
    """The grid points of ``overrides`` (comma lists expand) for each arm; also the swept keys.

    An arm is a space-separated group of overrides applied after the common ones; without
    arms there is one arm named ``run``.
    """
    pairs = parse_overrides(overrides)
    swept = [key for key, value in pairs if _expands(key, value)]
    if len(set(swept)) != len(swept):
        raise ConfigError(f"a swept key is given twice: {', '.join(swept)}")
    choices = [[f"{key}={v.strip()}" for v in value.split(",") if v.strip()] if _expands(key, value) else
               [f"{key}={value}"] for key, value in pairs]
    arm_groups = [(arm.strip(), arm.split()) for arm in arms] or [("run", [])]
    for name, group in arm_groups:
        for key, value in parse_overrides(group):
            if _expands(key, value):
                raise ConfigError(f"arm '{name}' has a comma list ({key}={value}); put swept keys outside --arm")
    points: list[GridPoint] = []
    for name, group in arm_groups:
        for combo in itertools.product(*choices):
            values = tuple((item.partition("=")[0], item.partition("=")[2]) for item in combo
                           if item.partition("=")[0] in swept)
            points.append(GridPoint(name, values, tuple(combo) + tuple(group)))
    return points, swept


def summarise(rows: list[dict[str, Any]], swept: Sequence[str], metric: str) -> list[dict[str, Any]]:
    """One row per cell (arm + swept keys except the seed): n, mean, std and the 95 % CI of ``metric``."""
    keys = [k for k in swept if k != REPLICATE_KEY]
    cells: dict[tuple[Any, ...], list[float]] = {}
    for row in rows:
        cells.setdefault((row["arm"], *(row[k] for k in keys)), []).append(float(row[metric]))
    table = []
    for cell, values in cells.items():
        mean, low, high = t_interval(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else math.nan
        table.append({"arm": cell[0], **dict(zip(keys, cell[1:])), "metric": metric, "n": len(values),
                      "mean": round(mean, 4), "std": round(std, 4), "ci95_low": round(low, 4),
                      "ci95_high": round(high, 4)})
    return table


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def markdown(table: list[dict[str, Any]], swept: Sequence[str], metric: str) -> str:
    """The table as markdown: one row per arm (and other keys), one column per value of the x key."""
    keys = [k for k in swept if k != REPLICATE_KEY]
    x_key = "data.per_class" if "data.per_class" in keys else (keys[-1] if keys else None)
    row_keys = ["arm"] + [k for k in keys if k != x_key]
    columns = sorted({r[x_key] for r in table}, key=_number) if x_key else ["all"]
    rows: dict[tuple[Any, ...], dict[str, str]] = {}
    for r in table:
        label = tuple(r[k] for k in row_keys)
        half = (r["ci95_high"] - r["ci95_low"]) / 2
        text = f"{r['mean']:.3f} ± {half:.3f}" if not math.isnan(half) else f"{r['mean']:.3f}"
        rows.setdefault(label, {})[r[x_key] if x_key else "all"] = f"{text} (n={r['n']})"
    header = [*row_keys, *(f"{x_key}={c}" if x_key else "test" for c in columns)]
    lines = [f"test {metric}: mean ± 95% CI half-width (t-distribution over seeds)", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, cells in rows.items():
        lines.append("| " + " | ".join([*map(str, label), *(cells.get(c, "") for c in columns)]) + " |")
    return "\n".join(lines) + "\n"


def plot(path: Path, table: list[dict[str, Any]], swept: Sequence[str], metric: str) -> None:
    """Mean test metric against the x key with 95 % CI error bars, one line per row of the table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in swept if k != REPLICATE_KEY]
    x_key = "data.per_class" if "data.per_class" in keys else (keys[-1] if keys else None)
    row_keys = ["arm"] + [k for k in keys if k != x_key]
    figure, axis = plt.subplots(figsize=(6, 4))
    lines: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in table:
        lines.setdefault(tuple(r[k] for k in row_keys), []).append(r)
    for label, cells in lines.items():
        cells.sort(key=lambda r: _number(r[x_key]) if x_key else 0)
        xs = [_number(r[x_key]) if x_key else 0 for r in cells]
        means = [r["mean"] for r in cells]
        errors = [0.0 if math.isnan(r["ci95_low"]) else (r["ci95_high"] - r["ci95_low"]) / 2 for r in cells]
        axis.errorbar(xs, means, yerr=errors, marker="o", capsize=3, label=" ".join(map(str, label)))
    axis.set_xlabel(x_key or "")
    axis.set_ylabel(f"test {metric}")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def finished(metrics_file: Path) -> bool:
    """Whether the run folder of ``metrics_file`` is finished: the runner writes ``run.json`` last.

    Folders from before run.json existed are finished when ``metrics.json`` has the duration.
    """
    try:
        if (metrics_file.parent / RUN_FACTS_FILE).is_file():
            json.loads((metrics_file.parent / RUN_FACTS_FILE).read_text())
            return metrics_file.is_file()
        return "duration_seconds" in json.loads(metrics_file.read_text())
    except (OSError, ValueError):
        return False


def run_duration(folder: Path) -> float | None:
    """Seconds a finished run took (``run.json``; older folders kept it in ``metrics.json``)."""
    for name, in_metrics in ((RUN_FACTS_FILE, False), ("metrics.json", True)):
        try:
            value = json.loads((folder / name).read_text()).get("duration_seconds")
        except (OSError, ValueError):
            continue
        if value is not None:
            return float(value)
    return None


def run_sweep(catalog: Catalog, overrides: Sequence[str], arms: Sequence[str] = (), out: str = "sweeps",
              console: Console | None = None, resume: str | Path | None = None,
              engine: EngineSettings | None = None) -> tuple[Path, list[dict[str, Any]]]:
    """Resolve every grid point (all errors before any training), run them, write the sweep folder.

    ``resume`` is the folder of an interrupted sweep with the same overrides and arms: runs
    that finished (their ``run.json`` exists) are read back, an interrupted one continues from
    its checkpoint, the others run. ``engine`` with ``engine=ray`` runs each grid point as a Ray
    task (:mod:`mirplug.engines.ray_engine`); the folder and tables are the same.
    """
    from mirplug.build import preflight

    console = console or Console(stderr=True)
    points, swept = expand(overrides, arms)
    configs: list[RunConfig] = [resolve(catalog, list(point.overrides)) for point in points]
    for config in configs:  # components too: a bad grid point stops the sweep before the first run
        preflight(catalog, config)
    if engine is not None and engine.ray:
        from mirplug.engines.ray_engine import check_ray

        check_ray()  # one line when Ray is missing, before the sweep folder is made
    folder = sweep_folder(configs[0].task.name, {"overrides": list(overrides), "arms": list(arms)}, out, resume)
    rows: list[dict[str, Any]] = []
    metric = "macro_f1"
    started = time.time()
    for point, (metrics, run_folder) in zip(points, run_points(catalog, points, configs, folder, console, engine)):
        metric = str(metrics.get("main_metric", metric))
        rows.append({"arm": point.arm, **dict(point.values), metric: metrics[metric],
                     "accuracy": metrics.get("accuracy"), "n_train": metrics["n_train"],
                     "epochs_run": metrics["epochs_run"],
                     "optimizer_steps": metrics.get("optimizer_steps", ""),
                     "duration_seconds": run_duration(run_folder),
                     "folder": str(run_folder.relative_to(folder)), "overrides": " ".join(point.overrides)})
    write_csv(folder / "runs.csv", rows)
    table = summarise(rows, swept, metric)
    write_csv(folder / "learning_curve.csv", table)
    text = markdown(table, swept, metric)
    (folder / "learning_curve.md").write_text(
        text + f"\n{len(rows)} runs in {time.time() - started:.0f} s wall time.\n")
    plot(folder / "learning_curve.png", table, swept, metric)
    console.print(escape(text), highlight=False)
    console.print(f"sweep folder: {escape(str(folder))}", highlight=False)
    return folder, table


def sweep_folder(task_name: str, grid: dict[str, Any], out: str, resume: str | Path | None) -> Path:
    """A new sweep folder holding the grid, or the folder of the interrupted sweep of the same grid."""
    if resume is None:
        folder = new_run_folder(out, f"sweep-{task_name}", None)
        (folder / GRID_FILE).write_text(json.dumps(grid, indent=2))
        return folder
    folder = Path(resume)
    saved = json.loads((folder / GRID_FILE).read_text()) if (folder / GRID_FILE).is_file() else None
    if saved is None:
        raise ConfigError(f"--resume {folder}: no {GRID_FILE} there; point it at a sweep or ablation folder")
    if saved != grid:
        raise ConfigError(f"--resume {folder}: that sweep ran {' '.join(saved['overrides'])} with arms "
                          f"{saved['arms']}; resume it with the same overrides and arms")
    return folder


def run_points(catalog: Catalog, points: list[GridPoint], configs: list[RunConfig], folder: Path, console: Console,
               engine: EngineSettings | None = None) -> list[tuple[dict[str, Any], Path]]:
    """Run every grid point into ``folder/runs`` (finished ones are read back), here or as Ray tasks; a line is
    printed as each run ends; the (metrics, run folder) of each, in grid order."""
    outcomes: list[tuple[dict[str, Any], Path]] = []
    todo: list[int] = []
    for index, (point, config) in enumerate(zip(points, configs)):
        name_point(point, config, folder)
        done = folder / "runs" / str(config.name) / "metrics.json"
        outcomes.append((json.loads(done.read_text()), done.parent) if finished(done) else ({}, done.parent))
        if not finished(done):
            todo.append(index)

    def report(index: int, metrics: dict[str, Any], run_folder: Path, how: str) -> None:
        outcomes[index] = (metrics, run_folder)
        point, metric = points[index], str(metrics.get("main_metric", "macro_f1"))
        console.print(escape(f"[{index + 1}/{len(points)}] {point.arm} {' '.join(f'{k}={v}' for k, v in point.values)}: "
                             f"{metric} {metrics[metric]:.3f} ({how})"), highlight=False)

    for index in (i for i in range(len(points)) if i not in todo):
        report(index, *outcomes[index], "finished earlier")
    if engine is not None and engine.ray:
        from mirplug.engines.ray_engine import run_tasks

        jobs = [(index, ([*points[index].overrides, f"out={configs[index].out}", f"name={configs[index].name}"],))
                for index in todo]
        for index, (metrics, run_folder) in run_tasks(run_overrides, jobs, engine):
            report(index, metrics, Path(run_folder), f"{run_duration(Path(run_folder)) or 0:.0f} s, on Ray")
    else:
        for index in todo:
            report(index, *run_point(catalog, points[index], configs[index], folder))
    return outcomes


def name_point(point: GridPoint, config: RunConfig, folder: Path) -> None:
    """Put the run of ``point`` in ``folder/runs/<arm>-<key>-<value>...``."""
    config.out = str(folder / "runs")
    config.name = "-".join([point.arm.replace(" ", "_").replace("=", "-").replace("/", "_")]
                           + [f"{k}-{v}" for k, v in point.values]) or None


def resume_target(run_folder: Path) -> Path | None:
    """The folder to resume for an unfinished grid run: its folder when it holds its ``config.yaml``.

    A folder without ``config.yaml`` was interrupted before anything was saved: it is removed and
    the run starts again (None).
    """
    if (run_folder / CONFIG_FILE).is_file():
        return run_folder
    if run_folder.exists():
        shutil.rmtree(run_folder)
    return None


def run_overrides(overrides: list[str]) -> tuple[dict[str, Any], str]:
    """One grid run from its overrides (a Ray task's work): resolve, run, continuing its folder when an earlier
    try was killed; its metrics and run folder."""
    from mirplug.catalog import load_catalog
    from mirplug.runner import run

    catalog = load_catalog()
    config = resolve(catalog, overrides)
    result = run(config, catalog, Console(file=io.StringIO(), width=120),
                 resume=resume_target(Path(config.out) / str(config.name)))
    return result.metrics, str(result.folder)


def run_point(catalog: Catalog, point: GridPoint, config: RunConfig, folder: Path) -> tuple[dict[str, Any], Path, str]:
    """Run one grid point into ``folder/runs`` (or read it back when it finished before); its metrics, run
    folder and how long it took."""
    from mirplug.runner import run

    name_point(point, config, folder)
    done = folder / "runs" / str(config.name) / "metrics.json"
    if finished(done):
        return json.loads(done.read_text()), done.parent, "finished earlier"
    # interrupted during this run: continue it from its checkpoint
    result = run(config, catalog, Console(file=io.StringIO(), width=120), resume=resume_target(done.parent))
    return result.metrics, result.folder, f"{run_duration(result.folder) or 0:.0f} s"
