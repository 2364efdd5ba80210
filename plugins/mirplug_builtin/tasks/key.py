"""Key estimation: 24 major/minor classes scored with the MIREX weighted score (mir_eval).

Expects a ``label`` ClassLabel column whose names are keys such as ``"C major"`` or ``"F# minor"``.
The weighted score gives 1 for the right key, 0.5 for a fifth, 0.3 for the relative and 0.2 for the
parallel key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mirplug import DataError
from mirplug_builtin.tasks.classification import ClassificationTask


class KeyTask(ClassificationTask):
    """Single-label key classification with the MIREX weighted score as the main metric."""

    main_metric = "weighted_score"

    def label_names(self, dataset: Any) -> list[str]:
        import mir_eval

        names = super().label_names(dataset)
        for name in names:
            try:
                mir_eval.key.validate_key(name)
            except ValueError:
                raise DataError(f"key label '{name}' is not a key; use names such as 'C major' or 'F# minor'") from None
        return names

    def metrics(self, targets: np.ndarray, probabilities: np.ndarray, names: Sequence[str]) -> dict[str, Any]:
        import mir_eval

        metrics = super().metrics(targets, probabilities, names)
        predicted = probabilities.argmax(axis=1)
        scores = [mir_eval.key.weighted_score(names[int(t)], names[int(p)]) for t, p in zip(targets, predicted)]
        metrics["weighted_score"] = float(np.mean(scores)) if scores else 0.0
        return metrics
