"""The real-audio comparison of issue 17, in one run: ``python benchmarks/real_audio.py run DIR``.

On the folder that ``real_audio.py build`` writes (train on two SoundFonts, test on a third), it runs

* the notebook baseline: per clip, the frozen backbone's window embeddings (3 s windows) mean- and
  max-pooled, standardised, ``LogisticRegression(C=0.1)`` on every clip of the training folder
  (mirplug's training and validation splits together), scored on the test folder; the embeddings are
  the very vectors the mirplug runs use (computed once into the cache, before the arms run), so the
  first notebook of each backbone pays for its embeddings (its wall time says so);
* ``mirplug run`` for every frozen backbone with the old head (``linear``, trained with early stopping)
  and the probe (``backbone.head=probe``), fused features, the old default (log-mel + CNN) and the
  new default (no backbone given), each over ``--seeds`` (the seed draws the validation split and the
  head's initialisation; the test folder is fixed);
* ``mirplug ablate`` for the embedding-space generators at ``data.per_class`` 5 and 10 (paired by seed);
* optional augmentation arms (``--aug-arm "augmenter=..."``; ``{irs}`` in an arm names synthetic room
  impulse responses written into WORK/irs), through ``mirplug ablate``: one per seed, in child processes
  (one beside the other arms, ``--aug-jobs`` once they are done), at ``--aug-base`` and ``--aug-grid``.

A restart with the same arguments resumes: finished ``mirplug run`` rows are read back from
``WORK/rows.jsonl`` and finished ablation folders under ``WORK/sweeps`` are read back (unfinished ones
resumed). ``--table-only`` rewrites ``table.md`` from ``results.json``.

It writes ``results.json`` (every number), ``runs.csv`` (one row per run) and ``table.md`` into
``--out`` (default ``benchmarks/results/real``). Every mirplug run uses the cache folder
``WORK/cache``: the first run of the script computes each backbone's embeddings once (the wall
times say which arm paid for them), later runs read them back.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_C = 0.1
FROZEN = {  # name -> (mirplug overrides of the backbone, notebook extractor)
    "musicnn MSD": ["backbone=musicnn"],
    "musicnn MTT": ["backbone=musicnn", "backbone.weights=MTT"],
    "fused musicnn MSD + mfcc + chroma": ["backbone=fused", "backbone.parts=musicnn+mfcc+chroma"],
}
OTHER_ARMS = {
    "fused mfcc + chroma (no pretrained network)": ["backbone=fused", "backbone.parts=mfcc+chroma"],
    "log-mel + CNN from scratch (the old default)": ["representation=mel", "backbone=cnn"],
    "the new default (no backbone given)": [],
}
# 6 s clips give 2 windows of 3 s whatever the limit; the new default's limit (4) for every arm keeps one
# feature-cache key, so every arm reads the same cached embeddings
COMMON = ["data.max_windows=4"]
GENERATORS = {"embedding_gaussian": "augmenter=embedding_gaussian augmenter.per_class=20",
              "embedding_smote": "augmenter=embedding_smote augmenter.per_class=20"}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------------------------------------
# the notebook


def window_embeddings(catalog: Any, folder: Path, overrides: list[str], work: Path) -> dict[str, Any]:
    """The frozen backbone's embedding of every 3 s window of every clip, with the clip of each window and the
    clips' labels, per split: the embeddings a ``mirplug run`` with ``overrides`` trains on (read from its
    cache, so the notebook and mirplug see the very same vectors)."""
    import tempfile

    import torch
    from rich.console import Console

    from mirplug.config import resolve
    from mirplug.runner import build_fold_model, load_splits, prepare, setup

    config = resolve(catalog, ["task=genre", "data=audiofolder", f"data.path={folder}", *COMMON, *overrides,
                               "backbone.head=probe", f"out={work / 'runs'}"])
    context = setup(config, catalog, Console(stderr=True))
    (splits,), _ = load_splits(context)
    with tempfile.TemporaryDirectory() as scratch:
        data = prepare(context, splits, Path(scratch))
        build_fold_model(context, data, Path(scratch))
    rows = {split: data.features[split] for split in ("train", "validation", "test")}
    rows = {split: value if isinstance(value, torch.Tensor) else value[:] for split, value in rows.items()}  # Rows
    return {split: {"x": rows[split].double().numpy(), "clip": data.windows[split].clip.numpy(),
                    "labels": np.asarray(data.targets[split])} for split in ("train", "validation", "test")}


def notebook_features(embeddings: dict[str, Any]) -> dict[str, Any]:
    """Per clip, the mean and the max of its window embeddings; training = mirplug's training + validation."""
    def pooled(split: str) -> np.ndarray:
        x, clip = embeddings[split]["x"], embeddings[split]["clip"]
        return np.stack([np.concatenate([x[clip == c].mean(0), x[clip == c].max(0)])
                         for c in range(int(clip.max()) + 1)])

    return {"x_train": np.concatenate([pooled("train"), pooled("validation")]),
            "y_train": np.concatenate([embeddings["train"]["labels"], embeddings["validation"]["labels"]]),
            "x_test": pooled("test"), "y_test": embeddings["test"]["labels"]}


def notebook_score(features: dict[str, Any]) -> dict[str, float]:
    """The 20-line notebook: standardise, ``LogisticRegression(C=0.1)`` on the whole training folder."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(features["x_train"])
    model = LogisticRegression(C=NOTEBOOK_C, max_iter=5000).fit(scaler.transform(features["x_train"]),
                                                                features["y_train"])
    predicted = model.predict(scaler.transform(features["x_test"]))
    return {"macro_f1": float(f1_score(features["y_test"], predicted, average="macro")),
            "accuracy": float(accuracy_score(features["y_test"], predicted))}


# ---------------------------------------------------------------------------------------------
# mirplug runs


def finished_rows(work: Path) -> dict[tuple[str, str, int], dict[str, Any]]:
    """The rows of the runs an earlier, interrupted invocation finished (``WORK/rows.jsonl``), by arm,
    overrides and seed: a restart reads them back instead of running them again."""
    path = work / "rows.jsonl"
    if not path.is_file():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {(row["arm"], row["overrides"], row["seed"]): row for row in rows}


def mirplug_runs(catalog: Any, folder: Path, arm: str, overrides: list[str], seeds: list[int], out: Path,
                 rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from mirplug.config import resolve
    from mirplug.runner import run

    results = []
    done = finished_rows(out.parent)
    for seed in seeds:
        if (arm, " ".join(overrides), seed) in done:
            row = {**done[(arm, " ".join(overrides), seed)], "resumed": True}
            rows.append(row)
            results.append(row)
            continue
        config = resolve(catalog, ["task=genre", "data=audiofolder", f"data.path={folder}", *COMMON, *overrides,
                                   f"seed={seed}", f"out={out}"])
        from mirplug import cache

        cache.STATS.clear() if hasattr(cache, "STATS") else None
        started, cpu = time.time(), cpu_seconds()
        result = run(config, catalog)
        stats = dict(getattr(cache, "STATS", {}))
        row = {"arm": arm, "seed": seed, "overrides": " ".join(overrides), "macro_f1": result.metrics["macro_f1"],
               "accuracy": result.metrics["accuracy"], "wall_seconds": round(time.time() - started, 1),
               "cpu_seconds": round(cpu_seconds() - cpu, 1), "embeddings_computed": stats.get("embeddings_computed", 0),
               "embeddings_loaded": stats.get("embeddings_loaded", 0), "backbone": config.backbone.name,
               "head": config.backbone.options.get("head", ""), "n_train": result.metrics["n_train"],
               "n_validation": result.metrics["n_validation"], "n_test": result.metrics["n_test"],
               "folder": str(result.folder)}
        probe = result.folder / "probe.json"
        if probe.is_file():
            row["probe"] = json.dumps(json.loads(probe.read_text())["chosen"])
        rows.append(row)
        results.append(row)
        with open(out.parent / "rows.jsonl", "a") as handle:
            handle.write(json.dumps(row) + "\n")
    return results


def summary(values: list[float]) -> dict[str, float]:
    from mirplug.stats import t_interval

    mean, low, high = t_interval(values)
    return {"mean": round(mean, 4), "ci95_low": round(low, 4), "ci95_high": round(high, 4), "n": len(values)}


def interrupted(out: Path) -> Path | None:
    """The ablation folder under ``out`` that an earlier invocation started (to resume or read back), if any."""
    from mirplug.sweep import GRID_FILE

    folders = sorted(path.parent for path in out.glob(f"*/{GRID_FILE}")) if out.is_dir() else []
    return folders[-1] if folders else None


def ablation(catalog: Any, folder: Path, base: list[str], arms: list[str], out: Path) -> dict[str, Any]:
    """``mirplug ablate`` over ``data.per_class`` 5 and 10 and the seeds; its paired table and per-run rows.
    A folder under ``out`` from an interrupted invocation is resumed (a finished one is read back)."""
    from mirplug.ablate import run_ablation

    first, rest = arms[0], arms[1:]
    overrides = ["task=genre", "data=audiofolder", f"data.path={folder}", *COMMON, *base, *first.split()]
    started = time.time()
    sweep, table = run_ablation(catalog, overrides, classical="", out=str(out), extra_arms=rest,
                                resume=interrupted(out))
    with open(sweep / "runs.csv", newline="") as handle:
        runs = list(csv.DictReader(handle))
    return {"folder": str(sweep), "paired": table, "runs": runs, "wall_seconds": round(time.time() - started, 1)}


class AugmentationQueue:
    """The augmentation arms as one ``mirplug ablate`` per seed (every arm of a seed in one child process,
    ``OMP_NUM_THREADS=1``), so a cut-short run still has whole seeds to pair; ``start`` adds a worker
    (one runs beside the frozen-backbone arms, a second joins when they are done). Each seed's folder
    ``WORK/sweeps/augmentation-seedS`` is resumed, or read back when finished, by a later invocation."""

    def __init__(self, folder: Path, base: list[str], arms: list[str], seeds: list[int], work: Path) -> None:
        import queue

        self.folder, self.base, self.arms, self.work = folder, base, arms, work
        self.todo: queue.Queue[int] = queue.Queue()
        for seed in seeds:
            self.todo.put(seed)
        self.seeds, self.threads, self.walls = seeds, [], {}  # type: ignore[var-annotated]
        self.started = time.time()

    def command(self, seed: int, out: Path) -> list[str]:
        first, rest = self.arms[0], self.arms[1:]
        command = [str(Path(sys.executable).with_name("mirplug")), "ablate", "task=genre", "data=audiofolder",
                   f"data.path={self.folder}", *COMMON, *self.base, f"seed={seed}", *first.split(),
                   "--classical", "", "--out", str(out)]
        for arm in rest:
            command += ["--arm", arm]
        resume = interrupted(out)
        if resume is not None:
            command += ["--resume", str(resume)]
        return command

    def worker(self) -> None:
        import queue
        import subprocess

        while True:
            try:
                seed = self.todo.get_nowait()
            except queue.Empty:
                return
            out = self.work / "sweeps" / f"augmentation-seed{seed}"
            out.mkdir(parents=True, exist_ok=True)
            previous = interrupted(out)
            if previous is not None and (previous / "ablation.csv").is_file():
                continue
            began = time.time()
            with open(out / "log.txt", "a") as log:
                subprocess.run(self.command(seed, out), stdout=log, stderr=subprocess.STDOUT, check=False,
                               env={**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
            self.walls[seed] = round(time.time() - began, 1)
            print(f"augmentation seed {seed}: {self.walls[seed]} s", flush=True)

    def start(self) -> None:
        import threading

        thread = threading.Thread(target=self.worker, daemon=True)
        thread.start()
        self.threads.append(thread)

    def result(self) -> dict[str, Any]:
        """Every arm minus real only, paired by seed (and by any other swept key), from every finished seed."""
        for thread in self.threads:
            thread.join()
        runs, folders = [], []
        for seed in self.seeds:
            sweep = interrupted(self.work / "sweeps" / f"augmentation-seed{seed}")
            if sweep is None or not (sweep / "ablation.csv").is_file():
                continue  # this seed failed or did not run: its log says why
            folders.append(str(sweep))
            with open(sweep / "runs.csv", newline="") as handle:
                runs += [{**row, "seed": str(seed)} for row in csv.DictReader(handle)]
        from mirplug.ablate import paired_differences

        grid = dict(item.partition("=")[::2] for item in self.base if "=" in item)
        for row in runs:
            row.setdefault("data.per_class", grid.get("data.per_class", ""))
        names = ["augmenter=", *[" ".join(arm.split()) for arm in self.arms]]
        paired = paired_differences(runs, names, "macro_f1", ["seed", "data.per_class"])
        return {"folders": folders, "paired": paired, "runs": runs, "base": self.base,
                "wall_seconds_per_seed": self.walls, "wall_seconds": round(time.time() - self.started, 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="the real-audio comparison (issue 17)")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "real")
    parser.add_argument("--work", type=Path, default=None, help="runs and cache (default: FOLDER/../real-work)")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--aug-arm", action="append", default=[], help="an augmentation arm for mirplug ablate")
    parser.add_argument("--aug-base", default="representation=mel backbone=cnn train.min_steps=300",
                        help="what the augmentation arms train (waveform augmenters need the backbone in the loop)")
    parser.add_argument("--aug-grid", default="data.per_class=5,10",
                        help="the training-set sizes of the augmentation arms (a comma list sweeps)")
    parser.add_argument("--aug-jobs", type=int, default=2,
                        help="child processes for the augmentation arms once the other arms are done (one runs "
                             "beside them from the start)")
    parser.add_argument("--skip-generators", action="store_true")
    parser.add_argument("--table-only", action="store_true", help="rewrite OUT/table.md from OUT/results.json")
    args = parser.parse_args(argv)
    if args.table_only:
        results = json.loads((args.out / "results.json").read_text())
        (args.out / "table.md").write_text(table(results) + "\n")
        print((args.out / "table.md").read_text())
        return
    folder = args.folder.resolve()
    work = (args.work or folder.parent / f"{folder.name}-work").resolve()
    work.mkdir(parents=True, exist_ok=True)
    os.environ["MIRPLUG_CACHE_DIR"] = str(work / "cache")
    seeds = [int(s) for s in args.seeds.split(",")]
    augmentation = None
    if args.aug_arm:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from augment_ablation import write_rooms  # the synthetic rooms of the impulse_response arm

        irs = write_rooms(work / "irs")
        arms = [arm.replace("{irs}", str(irs)) for arm in args.aug_arm]
        augmentation = AugmentationQueue(folder, [*args.aug_base.split(), *args.aug_grid.split()], arms, seeds, work)
        augmentation.start()
    from mirplug.catalog import load_catalog

    catalog = load_catalog()
    started = time.time()
    rows: list[dict[str, Any]] = []
    results: dict[str, Any] = {"folder": str(folder), "seeds": seeds, "notebook": {}, "arms": {},
                               "build": {k: v for k, v in json.loads((folder / "build.json").read_text()).items()
                                         if k != "files"}}
    for name, overrides in FROZEN.items():
        began, cpu = time.time(), cpu_seconds()
        features = notebook_features(window_embeddings(catalog, folder, overrides, work))
        results["notebook"][name] = {**notebook_score(features), "wall_seconds": round(time.time() - began, 1),
                                     "cpu_seconds": round(cpu_seconds() - cpu, 1)}
        print(f"notebook {name}: {results['notebook'][name]}", flush=True)
        heads = ["backbone.head=linear", "backbone.head=probe"]
        for head in heads:
            arm = f"{name}, {head.split('=')[1]}"
            runs = mirplug_runs(catalog, folder, arm, [*overrides, head], seeds, work / "runs", rows)
            notebook = results["notebook"][name]["macro_f1"]
            results["arms"][arm] = {"macro_f1": summary([r["macro_f1"] for r in runs]),
                                    "minus_notebook": summary([r["macro_f1"] - notebook for r in runs]),
                                    "accuracy": summary([r["accuracy"] for r in runs]),
                                    "wall_seconds": [r["wall_seconds"] for r in runs]}
            print(f"{arm}: {results['arms'][arm]['macro_f1']}", flush=True)
    for arm, overrides in OTHER_ARMS.items():
        runs = mirplug_runs(catalog, folder, arm, overrides, seeds, work / "runs", rows)
        results["arms"][arm] = {"macro_f1": summary([r["macro_f1"] for r in runs]),
                                "accuracy": summary([r["accuracy"] for r in runs]),
                                "wall_seconds": [r["wall_seconds"] for r in runs],
                                "config": {"backbone": runs[0]["backbone"], "head": runs[0]["head"]}}
        print(f"{arm}: {results['arms'][arm]['macro_f1']}", flush=True)
    grid = f"data.per_class=5,10 seed={','.join(map(str, seeds))}".split()
    if not args.skip_generators:
        results["generators"] = ablation(catalog, folder, ["backbone=musicnn", "backbone.head=probe", *grid],
                                         list(GENERATORS.values()), work / "sweeps" / "generators")
    if augmentation is not None:
        for _ in range(args.aug_jobs - 1):
            augmentation.start()
        results["augmentation"] = augmentation.result()
    results["wall_seconds"] = round(time.time() - started, 1)
    results["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "load_average_at_end": os.getloadavg(), "omp_threads": os.environ.get("OMP_NUM_THREADS")}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    with open(args.out / "runs.csv", "w", newline="") as handle:
        fields = sorted({key for row in rows for key in row} - {"folder"})
        writer = csv.DictWriter(handle, fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    (args.out / "table.md").write_text(table(results) + "\n")
    print(table(results))


def _ci(entry: dict[str, float]) -> str:
    return f"{entry['mean']:.3f} [{entry['ci95_low']:.3f}, {entry['ci95_high']:.3f}]"


def table(results: dict[str, Any]) -> str:
    """The one table of the README, from ``results``."""
    lines = ["| arm | test macro-F1, mean [95% CI] over seeds | minus the notebook (paired by seed) | "
             "wall s per run |", "|---|---|---|---|"]
    for name, scores in results["notebook"].items():
        lines.append(f"| notebook: {name}, mean+max pooled, LogisticRegression(C=0.1) | {scores['macro_f1']:.3f} "
                     f"(deterministic) | 0 | {scores['wall_seconds']:.0f} (embeddings included) |")
    for arm, entry in results["arms"].items():
        diff = _ci(entry["minus_notebook"]) if "minus_notebook" in entry else ""
        lines.append(f"| {arm} | {_ci(entry['macro_f1'])} | {diff} | "
                     f"{'/'.join(f'{w:.0f}' for w in entry['wall_seconds'])} |")
    for key, title in (("generators", "embedding-space generator"), ("augmentation", "augmentation")):
        if key not in results:
            continue
        lines += ["", f"| {title} arm | data.per_class | test macro-F1, mean [95% CI] | minus real only (paired by "
                      "seed), mean [95% CI] | seeds | wall s per run (mean) |", "|---|---|---|---|---|---|"]
        scores: dict[tuple[str, str], list[float]] = {}
        walls: dict[tuple[str, str], list[float]] = {}
        for run in results[key]["runs"]:
            cell = (run["arm"], str(run.get("data.per_class", "")))
            scores.setdefault(cell, []).append(float(run["macro_f1"]))
            if run.get("duration_seconds") not in (None, ""):
                walls.setdefault(cell, []).append(float(run["duration_seconds"]))

        def wall(cell: tuple[str, str]) -> str:
            return f"{np.mean(walls[cell]):.0f}" if walls.get(cell) else ""

        for per_class in sorted({cell[1] for cell in scores}, key=lambda v: int(v) if v.isdigit() else 0):
            reference = ("augmenter=", per_class)
            if reference in scores:
                lines.append(f"| real only (reference) | {per_class} | {_ci(summary(scores[reference]))} | 0 | "
                             f"{len(scores[reference])} | {wall(reference)} |")
            for row in results[key]["paired"]:
                if str(row.get("data.per_class", "")) != per_class:
                    continue
                cell = (row["arm"], per_class)
                low, high = row["ci95_low"], row["ci95_high"]
                interval = f"[{float(low):.3f}, {float(high):.3f}]" if low not in ("", None) else "[n/a]"
                lines.append(f"| {row['arm']} | {per_class} | {_ci(summary(scores[cell]))} | "
                             f"{float(row['mean_difference']):+.3f} {interval} | {row['n_seeds']} | {wall(cell)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main(sys.argv[1:])
