"""``benchmarks/ablation_summary.py`` and ``benchmarks/regenerate_results.py`` on hand-made sweep folders."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def write_rows(path: Path, rows: list[dict[str, object]]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_ablation_summary_leaves_unmeasured_optimizer_steps_unestimated(tmp_path: Path) -> None:
    rows = [
        {
            "arm": arm,
            "seed": seed,
            "macro_f1": 0.5,
            "accuracy": 0.5,
            "n_train": 30,
            "epochs_run": 10,
            "optimizer_steps": steps,
            "duration_seconds": 1.0,
            "folder": "runs/x",
            "overrides": "",
        }
        for arm, steps in (("augmenter=", ""), ("augmenter=vae", 40))
        for seed in (0, 1)
    ]
    write_rows(tmp_path / "runs.csv", rows)

    table = load("ablation_summary").summary(tmp_path)

    assert [(row["arm"], row["optimizer steps"]) for row in table] == [
        ("real only", "not recorded"),
        ("augmenter=vae", "40"),
    ]


def test_ablation_summary_reads_the_metric_after_the_swept_keys(tmp_path: Path) -> None:
    rows = [
        {
            "arm": "backbone=cnn",
            "data.per_class": k,
            "seed": seed,
            "macro_f1": 0.25 * k / 5,
            "accuracy": 0.5,
            "n_train": 6 * k,
            "epochs_run": 3,
            "optimizer_steps": 3,
            "duration_seconds": 1.0,
            "folder": "",
            "overrides": "",
        }
        for k in (5, 10)
        for seed in (0, 1)
    ]
    write_rows(tmp_path / "runs.csv", rows)

    table = load("ablation_summary").summary(tmp_path)

    assert [(row["data.per_class"], row["macro_f1"]) for row in table] == [
        ("5", "0.250 [0.250, 0.250]"),
        ("10", "0.500 [0.500, 0.500]"),
    ]


def fake_run(folder: Path, f1: float, steps: int, rare: float, generator: dict[str, object] | None) -> None:
    folder.mkdir(parents=True)
    labels = ["rock", "jazz", "reggae"]
    metrics = {
        "macro_f1": f1,
        "accuracy": f1,
        "optimizer_steps": steps,
        "epochs_run": steps,
        "best_epoch": 1,
        "n_train": 30,
        "n_validation": 9,
        "n_test": 12,
        "labels": labels,
        "threads": 1,
        "per_class": {name: {"f1": rare, "recall": rare, "precision": rare} for name in labels},
    }
    facts: dict[str, object] = {"duration_seconds": 2.0, "generators": []}
    if generator is not None:
        metrics["n_synthetic"] = 6
        metrics["generators"] = [
            {
                "augmenter": "vae",
                "tstr_accuracy": 0.4,
                "trtr_accuracy": 0.6,
                "sampled": 6,
                "kept": 6,
                "training": {"steps": 3},
            }
        ]
        facts["generators"] = [generator]
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "run.json").write_text(json.dumps(facts))


def test_regenerate_results_writes_per_run_and_paired_differences_from_the_run_folders(
    tmp_path: Path,
) -> None:
    regenerate = load("regenerate_results")
    sweep, target = tmp_path / "sweep", tmp_path / "results" / "demo"
    runs = []
    for arm, base in (("augmenter=", 0.5), ("augmenter=vae", 0.6)):
        for seed in (0, 1):
            name = f"{arm.replace('=', '-')}-seed-{seed}"
            fit = (
                None
                if arm == "augmenter="
                else (
                    {"augmenter": "vae", "fit_seconds": 7.0}
                    if seed == 0
                    else {"augmenter": "vae", "fit_seconds": 7.0, "reused_from_cache": "/cache/vae-x"}
                )
            )
            fake_run(sweep / "runs" / name, base + 0.1 * seed, 10 + seed, base, fit)
            runs.append(
                {
                    "arm": arm,
                    "seed": seed,
                    "macro_f1": base + 0.1 * seed,
                    "accuracy": 0.0,
                    "folder": f"runs/{name}",
                }
            )
    write_rows(sweep / "runs.csv", runs)
    for file in ("learning_curve.csv", "learning_curve.md", "learning_curve.png", "sweep.json"):
        (sweep / file).write_text("")
    (sweep / "regenerate.json").write_text(
        json.dumps(
            {
                "command": "mirplug sweep ...",
                "invocations": [{"wall_seconds": 12.0, "cpus": 2, "commit": "abc"}],
            }
        )
    )
    comparison = regenerate.Comparison(
        overrides=("task=genre", "seed=0,1"),
        arms=("augmenter=", "augmenter=vae"),
        groups=(regenerate.Group("vae", "augmenter=", ("augmenter=vae",)),),
        labels={"augmenter=": "real only"},
        rarest_class=True,
    )
    (target).mkdir(parents=True)
    (target / "spot_check.md").write_text("kept")

    regenerate.write_results("demo", comparison, sweep, target)

    per_run = list(csv.DictReader(open(target / "per_run.csv", newline="")))
    assert [
        (r["arm"], r["seed"], r["optimizer_steps"], r["rarest_class"], r["vae_fit_seconds"]) for r in per_run
    ] == [
        ("augmenter=", "0", "10", "reggae", ""),
        ("augmenter=", "1", "11", "reggae", ""),
        ("augmenter=vae", "0", "10", "reggae", "7.0"),
        ("augmenter=vae", "1", "11", "reggae", ""),
    ]
    differences = list(csv.DictReader(open(target / "paired_differences.csv", newline="")))
    assert [(d["metric"], d["mean_difference"]) for d in differences] == [
        ("macro_f1", "0.1"),
        ("rarest_f1", "0.1"),
        ("rarest_recall", "0.1"),
    ]
    assert (target / "spot_check.md").read_text() == "kept"
    assert "| real only | 2 | 0.550 [" in (target / "summary.md").read_text()
