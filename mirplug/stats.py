"""Statistics of results: the confidence interval (computed here and nowhere else) and fold summaries.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def half_width(values: Sequence[float], confidence: float = 0.95) -> float:
    """Half the two-sided ``confidence`` interval of the mean of ``values``: the t-distribution with n - 1
    degrees of freedom times the standard error (NaN for fewer than two values).

    The one place mirplug computes an interval: the k-fold ``*_ci95`` of ``metrics.json``, the sweep's
    learning curve and the ablation's paired differences all come from here.
    """
    from scipy import stats

    n = len(values)
    if n < 2:
        return math.nan
    spread = np.asarray(values, dtype=float).std(ddof=1)
    return float(stats.t.ppf(0.5 + confidence / 2, n - 1) * spread / np.sqrt(n))


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and the two-sided ``confidence`` interval (see :func:`half_width`); one value has NaN bounds."""
    mean = float(np.mean(np.asarray(values, dtype=float)))
    half = half_width(values, confidence)
    return mean, mean - half, mean + half


def summarize_folds(fold_metrics: list[dict[str, Any]], main_metric: str) -> dict[str, Any]:
    """Mean and 95% confidence interval of every scalar test metric across folds (counts get no interval)."""
    summary: dict[str, Any] = {"folds": len(fold_metrics), "per_fold": fold_metrics}
    for key, value in fold_metrics[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            values = [m[key] for m in fold_metrics]
            summary[key] = float(np.array(values, dtype=float).mean())
            if not key.startswith(("n_", "epochs_", "best_")):
                summary[f"{key}_ci95"] = half_width(values)
    summary["validation"] = {main_metric: float(np.mean([m["validation"][main_metric] for m in fold_metrics]))}
    return summary
