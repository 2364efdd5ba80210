"""A linear probe on frozen embeddings, with its regularisation chosen on held-out data (``backbone.head=probe``).

The protocol of the benchmarks that evaluate frozen embeddings (HEAR, MARBLE): the probe's
hyperparameter is chosen on data it was not trained on, then the probe is trained on everything
labelled. Here:

1. the embeddings of every window are standardised (mean and standard deviation of the training
   windows, per dimension);
2. for every value of the grid (``C`` of an L2-regularised logistic regression for single- and
   multi-label tasks, ``alpha`` of a ridge regression for regression tasks), scikit-learn fits the
   training windows and the clip predictions (the task's own aggregation of the window outputs) are
   scored with the task's main metric and the loss; the choice is the best metric and, among the values
   that reach it, the strongest regularisation whose held-out loss lies within one standard error of the
   lowest (the one-standard-error rule of Breiman et al. 1984, as glmnet's ``lambda.1se``): held-out
   clips that every value classifies alike do not decide, and the simpler probe is preferred;
3. the scores come from the validation split when it holds at least :data:`MIN_VALIDATION_PER_CLASS`
   clips of every class (single-label; :data:`MIN_VALIDATION_CLIPS` clips otherwise), else from a
   stratified k-fold cross-validation over the clips of training and validation together (the windows
   of one clip stay in one fold);
4. the chosen value is refitted on training plus validation.

The fitted probe becomes a :class:`ProbeHead` (standardisation and one linear layer, whose outputs the
task turns into probabilities exactly as scikit-learn would), so ``model.safetensors`` and
``mirplug predict`` work as for any head; ``probe.json`` in the run folder records the grid, every
score and the choice.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from torch import nn

from mirplug.errors import ConfigError

PROBE_FILE = "probe.json"
C_GRID = (1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0)  # inverse L2 strength on standardised embeddings
ALPHA_GRID = (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)
MIN_VALIDATION_PER_CLASS = 3
MIN_VALIDATION_CLIPS = 20
MAX_FOLDS = 5
MAX_ITER = 2000
# logit of a class or tag never seen in training: the probe never predicts it
ABSENT_LOGIT = -30.0


class ProbeHead(nn.Module):
    """Standardise the embedding, then one linear layer: ``(batch, embedding_dim)`` -> ``(batch, outputs)``.

    Its values come from :func:`fit_probe`, not from gradient training; before that it is the identity
    standardisation and zero weights.
    """

    def __init__(self, embedding_dim: int, n_outputs: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(embedding_dim))
        self.register_buffer("scale", torch.ones(embedding_dim))
        self.linear = nn.Linear(embedding_dim, n_outputs)
        with torch.no_grad():
            self.linear.weight.zero_()
            self.linear.bias.zero_()
        self.linear.requires_grad_(False)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.linear((embeddings - self.mean) / self.scale)


@dataclass
class ProbeData:
    """The probe's inputs: window embeddings ``x`` ``(windows, dim)``, window targets ``y``, the clip of each
    window ``clip`` ``(windows,)`` (0-based, per split) and the clip references ``clip_targets`` (what
    :meth:`Task.metrics` scores against)."""

    x: np.ndarray
    y: np.ndarray
    clip: np.ndarray
    clip_targets: Any

    @property
    def n_clips(self) -> int:
        return int(self.clip.max()) + 1 if len(self.clip) else 0


def grid_for(label_kind: str) -> tuple[str, tuple[float, ...]]:
    """The hyperparameter's name and grid for a task of ``label_kind``."""
    if label_kind == "regression":
        return "alpha", ALPHA_GRID
    if label_kind in ("single-label", "multi-label"):
        return "C", C_GRID
    raise ConfigError(f"backbone.head=probe fits clip-level tasks (single-label, multi-label, regression), "
                      f"not {label_kind} ones; choose another head")


def _fit_linear(label_kind: str, value: float, x: np.ndarray, y: np.ndarray, n_outputs: int,
                seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights ``(outputs, dim)`` and biases ``(outputs,)`` of the linear model fitted on standardised ``x``."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, Ridge

    dim = x.shape[1]
    weights = np.zeros((n_outputs, dim))
    bias = np.zeros(n_outputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if label_kind == "regression":
            model = Ridge(alpha=value).fit(x, y)
            return np.atleast_2d(model.coef_).reshape(n_outputs, dim), np.atleast_1d(model.intercept_).reshape(n_outputs)
        if label_kind == "multi-label":
            for tag in range(n_outputs):
                column = y[:, tag] > 0.5
                if column.all() or not column.any():  # one value only: a constant logit
                    bias[tag] = -ABSENT_LOGIT if column.all() else ABSENT_LOGIT
                    continue
                model = LogisticRegression(C=value, max_iter=MAX_ITER, random_state=seed).fit(x, column)
                weights[tag], bias[tag] = model.coef_[0], model.intercept_[0]
            return weights, bias
        labels = y.astype(int)
        present = np.unique(labels)
        bias[:] = ABSENT_LOGIT
        if len(present) == 1:
            bias[present[0]] = 0.0
            return weights, bias
        model = LogisticRegression(C=value, max_iter=MAX_ITER, random_state=seed).fit(x, labels)
        if len(present) == 2:  # one row of coefficients: the logit of the second class against the first
            weights[present[1]], bias[present[1]] = model.coef_[0], model.intercept_[0]
            bias[present[0]] = 0.0
        else:
            weights[present], bias[present] = model.coef_, model.intercept_
        return weights, bias


def _standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    return mean, np.where(scale > 1e-8, scale, 1.0)


def _score(task: Any, label_kind: str, value: float, train: ProbeData, held: ProbeData, names: Sequence[str],
           seed: int) -> tuple[float, np.ndarray]:
    """(main metric, loss of every window) on ``held`` of the probe fitted on ``train`` with ``value``."""
    mean, scale = _standardiser(train.x)
    weights, bias = _fit_linear(label_kind, value, (train.x - mean) / scale, train.y, len(names), seed)
    outputs = torch.as_tensor(((held.x - mean) / scale) @ weights.T + bias, dtype=torch.float32)
    windows = SimpleNamespace(clip=torch.as_tensor(held.clip, dtype=torch.long), rows=list(range(held.n_clips)))
    predictions = task.aggregate(outputs, windows, held.n_clips, None)
    metric = float(task.metrics(held.clip_targets, predictions, names)[task.main_metric])
    targets = torch.as_tensor(held.y)
    losses = np.array([float(task.loss(outputs[i:i + 1], targets[i:i + 1]).item()) for i in range(len(outputs))])
    return (metric if math.isfinite(metric) else -math.inf), losses


def choose(scores: list[dict[str, Any]], parameter: str, metric: str) -> dict[str, Any]:
    """The best ``metric``; among the values that reach it, the strongest regularisation whose ``loss`` is within
    one standard error (``loss_se``) of the lowest. ``C`` regularises more when smaller, ``alpha`` when larger."""
    best = max(round(row[metric], 10) for row in scores)
    tied = [row for row in scores if round(row[metric], 10) == best]
    lowest = min(tied, key=lambda row: row["loss"])
    within = [row for row in tied if row["loss"] <= lowest["loss"] + lowest["loss_se"]]
    return (min if parameter == "C" else max)(within, key=lambda row: row[parameter])


def _row(parameter: str, value: float, metric_name: str, metric: float, losses: np.ndarray) -> dict[str, Any]:
    se = float(losses.std(ddof=1) / math.sqrt(len(losses))) if len(losses) > 1 else 0.0
    return {parameter: value, metric_name: metric, "loss": float(losses.mean()), "loss_se": se}


def _select(data: ProbeData, clips: np.ndarray) -> ProbeData:
    """The windows of the given clips (renumbered 0..len(clips)-1 in that order)."""
    position = {int(c): i for i, c in enumerate(clips)}
    mask = np.isin(data.clip, clips)
    targets = data.clip_targets[clips] if isinstance(data.clip_targets, np.ndarray) else [data.clip_targets[c]
                                                                                          for c in clips]
    return ProbeData(data.x[mask], data.y[mask], np.array([position[int(c)] for c in data.clip[mask]]), targets)


def _join(first: ProbeData, second: ProbeData) -> ProbeData:
    offset = first.n_clips
    return ProbeData(np.concatenate([first.x, second.x]), np.concatenate([first.y, second.y]),
                     np.concatenate([first.clip, second.clip + offset]),
                     np.concatenate([np.asarray(first.clip_targets), np.asarray(second.clip_targets)]))


def validation_is_enough(label_kind: str, validation: ProbeData) -> bool:
    """Whether the validation split alone can rank the grid (enough clips, every class present)."""
    if label_kind == "single-label":
        counts = np.bincount(np.asarray(validation.clip_targets, dtype=int))
        return len(counts) > 0 and int(counts[counts > 0].min()) >= MIN_VALIDATION_PER_CLASS
    return validation.n_clips >= MIN_VALIDATION_CLIPS


def _folds(label_kind: str, data: ProbeData, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Clip-level (train, held) index pairs of a stratified k-fold (plain k-fold for other tasks)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    clips = np.arange(data.n_clips)
    if label_kind == "single-label":
        labels = np.asarray(data.clip_targets, dtype=int)
        smallest = int(np.bincount(labels)[np.bincount(labels) > 0].min())
        k = max(2, min(MAX_FOLDS, smallest))
        if smallest < 2:
            raise ConfigError("backbone.head=probe needs at least 2 labelled clips of every class in training and "
                              "validation together to choose its regularisation")
        splitter: Any = StratifiedKFold(k, shuffle=True, random_state=seed)
        return list(splitter.split(clips, labels))
    k = max(2, min(MAX_FOLDS, data.n_clips // 2))
    return list(KFold(k, shuffle=True, random_state=seed).split(clips))


def fit_probe(head: ProbeHead, task: Any, train: ProbeData, validation: ProbeData, names: Sequence[str], seed: int,
              extra: ProbeData | None = None) -> dict[str, Any]:
    """Choose the probe's hyperparameter, refit it on training plus validation, write it into ``head``.

    ``extra`` holds rows that join every training fit but are never held out nor scored (synthetic
    embedding rows: in cross-validation they join only the final refit, since they were drawn from
    every training clip). Returns what ``probe.json`` records.
    """
    label_kind = task.label_kind
    parameter, grid = grid_for(label_kind)
    scores: list[dict[str, Any]] = []
    if validation_is_enough(label_kind, validation):
        method = "validation"
        fitted_on = _join(train, extra) if extra is not None and len(extra.x) else train
        for value in grid:
            metric, losses = _score(task, label_kind, value, fitted_on, validation, names, seed)
            scores.append(_row(parameter, value, task.main_metric, metric, losses))
    else:
        everything = _join(train, validation)
        folds = _folds(label_kind, everything, seed)
        method = f"{len(folds)}-fold cross-validation over training and validation clips"
        for value in grid:
            results = [_score(task, label_kind, value, _select(everything, kept), _select(everything, held),
                              names, seed) for kept, held in folds]
            scores.append(_row(parameter, value, task.main_metric, float(np.mean([m for m, _ in results])),
                               np.concatenate([losses for _, losses in results])))
    best = choose(scores, parameter, task.main_metric)
    final = _join(train, validation)
    if extra is not None and len(extra.x):
        final = ProbeData(np.concatenate([final.x, extra.x]), np.concatenate([final.y, extra.y]), final.clip,
                          final.clip_targets)
    mean, scale = _standardiser(final.x)
    weights, bias = _fit_linear(label_kind, best[parameter], (final.x - mean) / scale, final.y, len(names), seed)
    with torch.no_grad():
        head.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        head.scale.copy_(torch.as_tensor(scale, dtype=torch.float32))
        head.linear.weight.copy_(torch.as_tensor(weights, dtype=torch.float32))
        head.linear.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
    model = "ridge regression" if label_kind == "regression" else "logistic regression (L2)"
    return {"model": f"{model} on standardised window embeddings (scikit-learn)", "parameter": parameter,
            "grid": list(grid), "selection": method, "metric": task.main_metric,
            "rule": f"best {task.main_metric}; among ties the strongest regularisation with a loss within one "
                    f"standard error of the lowest", "scores": scores,
            "chosen": {parameter: best[parameter]},
            "refit_on": {"windows": int(len(final.x)), "clips": int(final.n_clips),
                         "extra_rows": int(len(extra.x)) if extra is not None else 0}}


def probe_data(embeddings: torch.Tensor, window_targets: torch.Tensor, clip: torch.Tensor,
               clip_targets: Any) -> ProbeData:
    """:class:`ProbeData` from the runner's tensors (embeddings, window targets and clip of every window)."""
    return ProbeData(embeddings.double().numpy(), window_targets.numpy(), clip.numpy().astype(int), clip_targets)


def fit_probe_in_run(head: Any, on_embeddings: bool, task: Any, features: dict[str, torch.Tensor],
                     window_targets: dict[str, torch.Tensor], windows: dict[str, Any], clip_targets: dict[str, Any],
                     names: Sequence[str], seed: int, folder: Any,
                     synthetic: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict[str, Any]:
    """Fit the run's :class:`ProbeHead` on the frozen embeddings of training and validation; write ``probe.json``.

    ``on_embeddings`` is False when the embeddings could not be computed once (augmenters that change
    the audio or the features on every epoch need the backbone in the loop), which a probe refuses.
    ``synthetic`` (rows, window targets) from embedding-space generators join the training fits only.
    """
    from pathlib import Path

    from mirplug.rundir import write_json

    if not on_embeddings:
        raise ConfigError("backbone.head=probe fits once on the frozen backbone's embeddings, so it cannot take "
                          "augmenters that change the audio or features on every epoch; drop them, or choose "
                          "backbone.head=linear")
    data = {split: probe_data(features[split], window_targets[split], windows[split].clip, clip_targets[split])
            for split in ("train", "validation")}
    extra = None
    if synthetic is not None:
        rows, targets = synthetic
        extra = ProbeData(rows.double().numpy(), targets.numpy(), np.arange(len(rows)), targets.numpy())
    record = fit_probe(head, task, data["train"], data["validation"], names, seed, extra)
    write_json(Path(folder) / PROBE_FILE, record)
    return record
