"""Multi-label tagging: binary cross-entropy; ROC-AUC and PR-AUC, macro and per tag.

Expects a ``tags`` column holding, for each clip, a list of tags (``datasets.List(ClassLabel)``).
Tags that never or always occur in the scored split have no AUC and are left out of the macro mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mirplug import DataError, Task


class TaggingTask(Task):
    """Several labels per clip, from the ``tags`` column."""

    label_kind = "multi-label"
    main_metric = "roc_auc_macro"
    label_column = "tags"

    def label_names(self, dataset: Any) -> list[str]:
        feature = dataset.features.get(self.label_column)
        names = getattr(getattr(feature, "feature", None), "names", None)
        if not names:
            raise DataError(f"the dataset has no '{self.label_column}' column of tag lists for the tagging task")
        return list(names)

    def targets(self, rows: Any) -> torch.Tensor:
        column = rows[self.label_column]
        n_tags = len(rows.features[self.label_column].feature.names)
        hot = torch.zeros((len(column), n_tags))
        for row, tags in enumerate(column):
            hot[row, list(tags)] = 1.0
        return hot

    def build_head(self, embedding_dim: int, n_outputs: int) -> nn.Module:
        return nn.Linear(embedding_dim, n_outputs)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return nn.functional.binary_cross_entropy_with_logits(outputs, targets)

    def probabilities(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.sigmoid()

    def metrics(self, targets: np.ndarray, probabilities: np.ndarray, names: Sequence[str]) -> dict[str, Any]:
        from sklearn.metrics import average_precision_score, roc_auc_score

        per_tag: dict[str, dict[str, float]] = {}
        for index, name in enumerate(names):
            column = targets[:, index]
            if 0 < column.sum() < len(column):
                per_tag[name] = {
                    "roc_auc": float(roc_auc_score(column, probabilities[:, index])),
                    "pr_auc": float(average_precision_score(column, probabilities[:, index])),
                    "support": int(column.sum()),
                }
        return {
            "roc_auc_macro": float(np.mean([s["roc_auc"] for s in per_tag.values()])) if per_tag else 0.0,
            "pr_auc_macro": float(np.mean([s["pr_auc"] for s in per_tag.values()])) if per_tag else 0.0,
            "per_tag": per_tag,
        }

    def plots(self, folder: Any, targets: np.ndarray, probabilities: np.ndarray, names: Sequence[str]) -> list[str]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        scores = self.metrics(targets, probabilities, names)["per_tag"]
        tags = sorted(scores, key=lambda t: scores[t]["roc_auc"])
        figure, axes = plt.subplots(figsize=(6, 0.25 * len(tags) + 1))
        axes.barh(tags, [scores[t]["roc_auc"] for t in tags], label="ROC-AUC")
        axes.barh(tags, [scores[t]["pr_auc"] for t in tags], alpha=0.6, label="PR-AUC")
        axes.set_xlim(0, 1)
        axes.legend(loc="lower right")
        axes.set_title("per-tag scores (test)")
        figure.tight_layout()
        figure.savefig(Path(folder) / "per_tag_scores.png", dpi=110)
        plt.close(figure)
        return ["per_tag_scores.png"]

    def format_target(self, target: np.ndarray, names: Sequence[str]) -> str:
        return ";".join(names[i] for i in np.flatnonzero(target))

    def prediction_rows(self, probabilities: np.ndarray, names: Sequence[str]) -> list[dict[str, Any]]:
        rows = []
        for probs in probabilities:
            chosen = [names[i] for i in np.flatnonzero(probs >= 0.5)]
            best = int(probs.argmax())
            rows.append({"prediction": ";".join(chosen), "probability": float(probs[best]),
                         **{f"p_{name}": float(p) for name, p in zip(names, probs)}})
        return rows
