"""Task 'myplugin': single-label classification with label smoothing.

Expects a dataset with a ``label`` column of type ``datasets.ClassLabel``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from mirplug import DataError, Task


class SmoothedClassification(Task):
    """One class per clip; cross-entropy with label smoothing; accuracy and macro-F1."""

    label_kind = "single-label"
    main_metric = "macro_f1"
    label_column = "label"

    def __init__(self, label_smoothing: float = 0.1) -> None:
        self.label_smoothing = label_smoothing

    def label_names(self, dataset: Any) -> list[str]:
        column = dataset.features.get(self.label_column)
        names = list(column.names) if hasattr(column, "names") else []
        if not names:
            raise DataError(f"task myplugin needs a ClassLabel column '{self.label_column}' in the dataset")
        return names

    def targets(self, rows: Any) -> torch.Tensor:
        return torch.as_tensor(np.asarray(rows[self.label_column]), dtype=torch.long)

    def build_head(self, embedding_dim: int, n_outputs: int) -> nn.Module:
        return nn.Linear(embedding_dim, n_outputs)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(outputs, targets, label_smoothing=self.label_smoothing)

    def probabilities(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.softmax(dim=-1)

    def metrics(self, targets: np.ndarray, probabilities: np.ndarray, names: Sequence[str]) -> dict[str, Any]:
        from sklearn.metrics import accuracy_score, f1_score

        predicted = probabilities.argmax(axis=1)
        labels = list(range(len(names)))
        return {"accuracy": float(accuracy_score(targets, predicted)),
                "macro_f1": float(f1_score(targets, predicted, labels=labels, average="macro", zero_division=0))}

    def prediction_rows(self, probabilities: np.ndarray, names: Sequence[str]) -> list[dict[str, Any]]:
        return [{"prediction": names[int(p.argmax())], "probability": float(p.max())} for p in probabilities]
