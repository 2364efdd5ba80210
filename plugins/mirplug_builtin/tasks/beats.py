"""Frame-level event detection (beats, onsets): per-frame activation, peak picking, F-measure (mir_eval).

Expects an ``events`` column (by default ``beats``) holding each clip's event times in seconds, for
example from the synthetic generator or from annotation files listed in a manifest. The head predicts
one logit per frame from the backbone's frame embeddings at the backbone's frame rate, whatever
representation and backbone produced them. Scoring: events are peak-picked from each window's
activation, shifted by the window's start, merged per clip, and compared with the reference events
inside the covered time span at a tolerance of ``tolerance_seconds`` (70 ms is the MIREX beat window).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from mirplug import DataError, Task


def peak_pick(activation: np.ndarray, frame_rate: float, threshold: float, min_gap_seconds: float) -> np.ndarray:
    """Times (s) of local maxima above ``threshold``, at least ``min_gap_seconds`` apart (strongest first)."""
    if len(activation) == 0:
        return np.zeros(0)
    padded = np.concatenate([[-np.inf], activation, [-np.inf]])
    peaks = np.flatnonzero((activation >= padded[:-2]) & (activation > padded[2:]) & (activation >= threshold))
    chosen: list[int] = []
    gap = min_gap_seconds * frame_rate
    for index in sorted(peaks, key=lambda i: -activation[i]):
        if all(abs(index - other) >= gap for other in chosen):
            chosen.append(int(index))
    return (np.sort(np.asarray(chosen, dtype=float)) + 0.5) / frame_rate


def f_measure(reference: np.ndarray, estimated: np.ndarray, tolerance_seconds: float) -> tuple[float, float, float]:
    """mir_eval's (F-measure, precision, recall) of event times; all 1.0 when both are empty."""
    import mir_eval

    if len(reference) == 0 and len(estimated) == 0:
        return 1.0, 1.0, 1.0
    if len(reference) == 0 or len(estimated) == 0:
        return 0.0, 0.0, 0.0
    f, p, r = mir_eval.onset.f_measure(np.sort(reference), np.sort(estimated), window=tolerance_seconds)
    return float(f), float(p), float(r)


class EventTask(Task):
    """Per-frame event activation trained with weighted binary cross-entropy."""

    label_kind = "frame-events"
    main_metric = "f_measure"
    frame_level = True

    def __init__(self, events: str = "beats", tolerance_seconds: float = 0.07, threshold: float = 0.5,
                 min_gap_seconds: float = 0.2, target_width_frames: int = 1) -> None:
        self.label_column = events
        self.tolerance_seconds = tolerance_seconds
        self.threshold = threshold
        self.min_gap_seconds = min_gap_seconds
        self.target_width_frames = target_width_frames

    def label_names(self, dataset: Any) -> list[str]:
        if self.label_column not in dataset.column_names:
            raise DataError(
                f"the dataset has no '{self.label_column}' column of event times (seconds) for the "
                f"{self.label_column} task; it has: {', '.join(dataset.column_names)}"
            )
        return [self.label_column]

    def targets(self, rows: Any) -> torch.Tensor:
        return torch.zeros(len(rows))  # frame targets come from window_targets

    def clip_targets(self, rows: Any) -> list[np.ndarray]:
        return [np.asarray(times, dtype=float) for times in rows[self.label_column]]

    def window_targets(self, rows: Any, windows: Any, frame_rate: float | None, n_frames: int | None) -> torch.Tensor:
        assert frame_rate is not None and n_frames is not None
        events = self.clip_targets(rows)
        targets = torch.zeros((len(windows.clip), n_frames))
        for window, (clip, start) in enumerate(zip(windows.clip.tolist(), windows.starts.tolist())):
            frames = np.floor((events[clip] - start) * frame_rate).astype(int)
            for offset in range(-(self.target_width_frames // 2), self.target_width_frames // 2 + 1):
                hit = frames + offset
                hit = hit[(hit >= 0) & (hit < n_frames)]
                targets[window, hit] = 1.0 if offset == 0 else max(0.5, float(targets[window, hit].max()) if len(hit) else 0)
        return targets

    def build_head(self, embedding_dim: int, n_outputs: int) -> nn.Module:
        return nn.Linear(embedding_dim, 1)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        # Events are rare among frames: weight positives by the ratio of negatives to positives.
        positives = targets.sum().clamp_min(1.0)
        weight = ((targets.numel() - positives) / positives).clamp(1.0, 50.0)
        return nn.functional.binary_cross_entropy_with_logits(outputs, targets, pos_weight=weight)

    def probabilities(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.sigmoid()

    def aggregate(self, outputs: torch.Tensor, windows: Any, n_clips: int, frame_rate: float | None) -> list[np.ndarray]:
        assert frame_rate is not None
        activations = self.probabilities(outputs).numpy()
        per_clip: list[list[float]] = [[] for _ in range(n_clips)]
        for activation, clip, start in zip(activations, windows.clip.tolist(), windows.starts.tolist()):
            times = peak_pick(activation, frame_rate, self.threshold, self.min_gap_seconds) + start
            per_clip[clip].extend(times.tolist())
        merged = []
        for times in per_clip:
            kept: list[float] = []
            for t in sorted(times):  # overlapping windows may find the same event twice
                if not kept or t - kept[-1] >= self.min_gap_seconds:
                    kept.append(t)
            merged.append(np.asarray(kept))
        return merged

    def metrics(self, targets: Any, probabilities: Any, names: Sequence[str]) -> dict[str, Any]:
        scores = np.array([f_measure(np.asarray(ref), np.asarray(est), self.tolerance_seconds)
                           for ref, est in zip(targets, probabilities)]).reshape(-1, 3)
        means = scores.mean(axis=0) if len(scores) else np.zeros(3)
        return {"f_measure": float(means[0]), "precision": float(means[1]), "recall": float(means[2])}

    def format_target(self, target: Any, names: Sequence[str]) -> str:
        return " ".join(f"{t:.3f}" for t in target)

    def prediction_rows(self, probabilities: Any, names: Sequence[str]) -> list[dict[str, Any]]:
        return [{"prediction": " ".join(f"{t:.3f}" for t in times), "events": len(times)} for times in probabilities]
