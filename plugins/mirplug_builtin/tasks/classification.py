"""Single-label classification: cross-entropy, accuracy, macro-F1, per-class scores, confusion matrix.

Expects a dataset with a ``label`` column of type ``datasets.ClassLabel``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mirplug import DataError, Task


class ClassificationTask(Task):
    """One class per clip, chosen among the ``label`` column's names."""

    label_kind = "single-label"
    main_metric = "macro_f1"
    label_column = "label"

    def __init__(self, stratify: bool = True) -> None:
        self.stratify = stratify

    def label_names(self, dataset: Any) -> list[str]:
        feature = dataset.features.get(self.label_column)
        names = getattr(feature, "names", None)
        if not names:
            raise DataError(f"the dataset has no ClassLabel column '{self.label_column}' for a single-label task")
        return list(names)

    def targets(self, rows: Any) -> torch.Tensor:
        return torch.as_tensor(np.asarray(rows[self.label_column]), dtype=torch.long)

    def build_head(self, embedding_dim: int, n_outputs: int) -> nn.Module:
        return nn.Linear(embedding_dim, n_outputs)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(outputs, targets)

    def probabilities(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.softmax(dim=-1)

    def metrics(self, targets: np.ndarray, probabilities: np.ndarray, names: Sequence[str]) -> dict[str, Any]:
        from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

        predicted = probabilities.argmax(axis=1)
        labels = list(range(len(names)))
        precision, recall, f1, support = precision_recall_fscore_support(
            targets, predicted, labels=labels, zero_division=0
        )
        return {
            "accuracy": float(accuracy_score(targets, predicted)),
            "macro_f1": float(f1_score(targets, predicted, labels=labels, average="macro", zero_division=0)),
            "per_class": {
                name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                for name, p, r, f, s in zip(names, precision, recall, f1, support)
            },
            "confusion_matrix": confusion_matrix(targets, predicted, labels=labels).tolist(),
        }

    def plots(self, folder: Any, targets: np.ndarray, probabilities: np.ndarray, names: Sequence[str]) -> list[str]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from sklearn.metrics import ConfusionMatrixDisplay

        figure, axes = plt.subplots(figsize=(1.0 + 0.7 * len(names), 0.8 + 0.7 * len(names)))
        ConfusionMatrixDisplay.from_predictions(
            targets, probabilities.argmax(axis=1), labels=list(range(len(names))), display_labels=list(names),
            ax=axes, colorbar=False, xticks_rotation=45,
        )
        axes.set_title("confusion matrix (test)")
        figure.tight_layout()
        figure.savefig(Path(folder) / "confusion_matrix.png", dpi=120)
        plt.close(figure)
        return ["confusion_matrix.png"]

    def format_target(self, target: np.ndarray, names: Sequence[str]) -> str:
        return names[int(target)]

    def prediction_rows(self, probabilities: np.ndarray, names: Sequence[str]) -> list[dict[str, Any]]:
        rows = []
        for probs in probabilities:
            best = int(probs.argmax())
            rows.append({"prediction": names[best], "probability": float(probs[best]),
                         **{f"p_{name}": float(p) for name, p in zip(names, probs)}})
        return rows
