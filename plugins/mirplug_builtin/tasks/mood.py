"""Mood as regression of one or more numeric targets: MSE loss; R² and MAE per target; a scatter plot.

Expects one numeric column per target, by default ``valence`` and ``arousal``
(``task.targets=valence,arousal`` chooses others).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mirplug import DataError, Task


class MoodTask(Task):
    """Regression of the ``targets`` columns."""

    label_kind = "regression"
    main_metric = "r2_mean"

    def __init__(self, targets: str = "valence,arousal") -> None:
        self.columns = [c.strip() for c in targets.split(",") if c.strip()]

    def label_names(self, dataset: Any) -> list[str]:
        missing = [c for c in self.columns if c not in dataset.column_names]
        if missing:
            raise DataError(
                f"the dataset has no column '{missing[0]}' for the mood task; it has: {', '.join(dataset.column_names)}"
            )
        return list(self.columns)

    def targets(self, rows: Any) -> torch.Tensor:
        return torch.tensor(np.stack([np.asarray(rows[c], dtype=np.float32) for c in self.columns], axis=1))

    def build_head(self, embedding_dim: int, n_outputs: int) -> nn.Module:
        return nn.Linear(embedding_dim, n_outputs)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(outputs, targets)

    def probabilities(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs

    def metrics(self, targets: np.ndarray, probabilities: np.ndarray, names: Sequence[str]) -> dict[str, Any]:
        from sklearn.metrics import mean_absolute_error, r2_score

        per_target = {
            name: {"r2": float(r2_score(targets[:, i], probabilities[:, i])),
                   "mae": float(mean_absolute_error(targets[:, i], probabilities[:, i]))}
            for i, name in enumerate(names)
        }
        return {
            "r2_mean": float(np.mean([s["r2"] for s in per_target.values()])),
            "mae_mean": float(np.mean([s["mae"] for s in per_target.values()])),
            "per_target": per_target,
        }

    def plots(self, folder: Any, targets: np.ndarray, probabilities: np.ndarray, names: Sequence[str]) -> list[str]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 4), squeeze=False)
        for i, name in enumerate(names):
            ax = axes[0, i]
            ax.scatter(targets[:, i], probabilities[:, i], s=12)
            low, high = float(min(targets[:, i].min(), probabilities[:, i].min())), float(
                max(targets[:, i].max(), probabilities[:, i].max()))
            ax.plot([low, high], [low, high], color="grey", linestyle="--")
            ax.set_xlabel(f"true {name}")
            ax.set_ylabel(f"predicted {name}")
        figure.tight_layout()
        figure.savefig(Path(folder) / "scatter.png", dpi=110)
        plt.close(figure)
        return ["scatter.png"]

    def format_target(self, target: np.ndarray, names: Sequence[str]) -> str:
        return ";".join(f"{name}={float(v):.4f}" for name, v in zip(names, target))

    def prediction_rows(self, probabilities: np.ndarray, names: Sequence[str]) -> list[dict[str, Any]]:
        return [{f"predicted_{name}": float(v) for name, v in zip(names, values)} for values in probabilities]
