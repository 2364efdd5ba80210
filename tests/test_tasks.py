"""Each task's metrics against hand-computed values on tiny cases, and each task end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import TINY, tone, write_audio

from mirplug.config import resolve
from mirplug.windows import Windows
from mirplug.runner import run
from mirplug_builtin.tasks.beats import EventTask, f_measure, peak_pick
from mirplug_builtin.tasks.key import KeyTask
from mirplug_builtin.tasks.mood import MoodTask
from mirplug_builtin.tasks.tagging import TaggingTask


def test_key_weighted_score_gives_credit_for_related_keys():
    names = ["C major", "G major", "A minor", "C minor", "F# major"]
    targets = np.zeros(5, dtype=int)  # all C major
    probabilities = np.eye(5)  # predicted: C major, G major (fifth), A minor (relative), C minor (parallel), F#
    metrics = KeyTask().metrics(targets, probabilities, names)
    assert metrics["weighted_score"] == pytest.approx((1.0 + 0.5 + 0.3 + 0.2 + 0.0) / 5)
    assert metrics["accuracy"] == 0.2


def test_tagging_auc_on_a_hand_computed_case():
    names = ["drums", "piano", "always"]
    targets = np.array([[1, 0, 1], [1, 1, 1], [0, 1, 1], [0, 0, 1]])
    probabilities = np.array([[0.9, 0.2, 0.5], [0.4, 0.8, 0.5], [0.6, 0.7, 0.5], [0.1, 0.1, 0.5]])
    metrics = TaggingTask().metrics(targets, probabilities, names)
    # drums: positives {0.9, 0.4} vs negatives {0.6, 0.1}: 3 of 4 pairs ordered -> 0.75
    # piano: positives {0.8, 0.7} vs negatives {0.2, 0.1}: all ordered -> 1.0
    assert metrics["per_tag"]["drums"]["roc_auc"] == 0.75
    assert metrics["per_tag"]["piano"]["roc_auc"] == 1.0
    assert "always" not in metrics["per_tag"]  # no negatives: no AUC
    assert metrics["roc_auc_macro"] == 0.875
    # drums PR-AUC: ranking 0.9(+), 0.6(-), 0.4(+): AP = (1/1 + 2/3) / 2
    assert metrics["per_tag"]["drums"]["pr_auc"] == pytest.approx((1 + 2 / 3) / 2)


def test_mood_r2_and_mae_per_target():
    targets = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]])
    predicted = np.array([[0.0, 1.5], [1.0, 2.0], [1.0, 2.5]])
    metrics = MoodTask().metrics(targets, predicted, ["valence", "arousal"])
    # valence: SSE 1, SST 2 -> R2 0.5; MAE 1/3. arousal: SSE 0.5, SST 2 -> R2 0.75; MAE 1/3
    assert metrics["per_target"]["valence"] == {"r2": 0.5, "mae": pytest.approx(1 / 3)}
    assert metrics["per_target"]["arousal"]["r2"] == 0.75
    assert metrics["r2_mean"] == 0.625


def test_peak_picking_keeps_strong_separated_maxima():
    activation = np.array([0.1, 0.9, 0.2, 0.8, 0.1, 0.1, 0.7, 0.1, 0.3, 0.1])
    # frame rate 10: peaks at frames 1, 3, 6 (8 is below threshold); 3 is within 0.25 s of 1 -> dropped
    times = peak_pick(activation, 10.0, threshold=0.5, min_gap_seconds=0.25)
    assert times.tolist() == [0.15, 0.65]


def test_event_f_measure_within_the_tolerance():
    reference = np.array([0.5, 1.0, 1.5, 2.0])
    estimated = np.array([0.52, 1.1, 1.49, 3.0])  # 0.52 and 1.49 hit; 1.1 misses at 70 ms
    f, precision, recall = f_measure(reference, estimated, 0.07)
    assert (precision, recall) == (0.5, 0.5) and f == 0.5
    assert f_measure(np.array([]), np.array([]), 0.07) == (1.0, 1.0, 1.0)


def test_event_targets_mark_the_frames_of_each_event_inside_each_window():
    import datasets

    rows = datasets.Dataset.from_dict({"beats": [[0.25, 1.25], [0.05]]})
    windows = Windows(torch.zeros(3, 10), torch.tensor([0, 0, 1]), [0, 1], [], torch.tensor([0.0, 1.0, 0.0]))
    targets = EventTask(target_width_frames=1).window_targets(rows, windows, frame_rate=4.0, n_frames=4)
    assert targets.tolist() == [[0, 1, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0]]


def test_event_aggregation_shifts_by_the_window_start_and_merges_duplicates():
    windows = Windows(torch.zeros(2, 10), torch.tensor([0, 0]), [0], [], torch.tensor([0.0, 0.5]))
    logits = torch.full((2, 10), -5.0)
    logits[0, 7] = 5.0  # 0.75 s at 10 fps
    logits[1, 2] = 5.0  # 0.5 + 0.25 = 0.75 s: the same beat seen twice
    logits[1, 8] = 5.0  # 0.5 + 0.85 = 1.35 s
    (times,) = EventTask().aggregate(logits, windows, 1, 10.0)
    assert times.tolist() == pytest.approx([0.75, 1.35])


@pytest.mark.parametrize(
    ("task", "metric", "extra"),
    [
        ("instrument", "macro_f1", ["backbone.blocks=2"]),
        ("tagging", "roc_auc_macro", ["backbone.blocks=2"]),
        ("mood", "r2_mean", ["backbone.blocks=2"]),
        ("beats", "f_measure", ["backbone.blocks=2", "backbone.channels=4"]),
        ("key", "weighted_score", ["data.clips_per_class=12"]),
    ],
)
def test_every_task_runs_on_the_synthetic_data(catalog, tmp_path, task, metric, extra):
    config = resolve(catalog, [f"task={task}", *TINY, *extra, f"out={tmp_path}"])
    result = run(config, catalog)
    assert np.isfinite(result.metrics[metric])
    saved = json.loads((result.folder / "metrics.json").read_text())
    assert saved["main_metric"] == metric
    assert (result.folder / "predictions.csv").read_text().count("\n") == saved["n_test"] + 1


def test_a_frame_task_refuses_a_clip_level_backbone(catalog, tmp_path):
    from mirplug.errors import ConfigError

    config = resolve(catalog, ["task=beats", *TINY, "backbone=mlp", f"out={tmp_path}"])
    with pytest.raises(ConfigError, match="backbone 'mlp' gives clip embeddings only"):
        run(config, catalog)


def test_k_fold_cross_validation_reports_mean_and_ci_and_predict_uses_the_ensemble(catalog, tmp_path):
    from mirplug.predict import load_run, predict_files

    config = resolve(catalog, ["task=genre", *TINY, "backbone.channels=4", "backbone.blocks=2", "eval.folds=3",
                               "data.styles=2", f"out={tmp_path}"])
    result = run(config, catalog)
    assert result.metrics["folds"] == 3 and len(result.metrics["per_fold"]) == 3
    per_fold = [m["macro_f1"] for m in result.metrics["per_fold"]]
    assert result.metrics["macro_f1"] == pytest.approx(np.mean(per_fold))
    from scipy import stats

    expected_ci = stats.t.ppf(0.975, 2) * np.std(per_fold, ddof=1) / np.sqrt(3)
    assert result.metrics["macro_f1_ci95"] == pytest.approx(expected_ci)
    # each clip is tested exactly once across the folds
    test_ids = [line.split(",")[0] for k in (1, 2, 3)
                for line in (result.folder / f"fold-{k}" / "predictions.csv").read_text().splitlines()[1:]]
    assert len(test_ids) == len(set(test_ids)) == 16
    loaded = load_run(result.folder, catalog)
    assert len(loaded.models) == 3
    path = write_audio(tmp_path / "x.wav", tone(440.0, 1.0))
    (row,) = predict_files(loaded, [str(path)])
    assert row["prediction"] in ["rock", "electronic"]


def test_early_stopping_after_few_optimizer_steps_says_the_model_may_be_under_trained(catalog, tmp_path):
    import io

    from rich.console import Console

    # 8 clips per class, 3 styles: 15 training windows, two optimizer steps per epoch
    overrides = [*TINY, "data.styles=3", "backbone.channels=4", "train.epochs=20", "train.patience=1",
                 "train.lr=0.0", f"out={tmp_path}"]  # lr 0: validation never improves, so patience stops it
    output = io.StringIO()
    result = run(resolve(catalog, ["task=genre", *overrides]), catalog, Console(file=output, width=400))
    epochs, steps = result.metrics["epochs_run"], result.metrics["optimizer_steps"]
    assert epochs < 20 and steps == 2 * epochs
    assert f"early stopping after {steps} optimizer steps ({epochs} epochs of 15 windows" in output.getvalue()
    assert "try train.min_steps=300" in output.getvalue()
    # with min_steps, patience waits for them and the epoch limit grows to reach them
    longer = run(resolve(catalog, ["task=genre", *overrides, "train.epochs=2", "train.min_steps=12"]), catalog,
                 Console(file=io.StringIO(), width=400))
    assert longer.metrics["optimizer_steps"] == 12 and longer.metrics["epochs_run"] == 6
    output = io.StringIO()
    run(resolve(catalog, ["task=genre", *TINY, "data.styles=3", "backbone.channels=4", f"out={tmp_path}"]), catalog,
        Console(file=output, width=400))  # no early stop (train.epochs=2): no note
    assert "optimizer steps" not in output.getvalue()
