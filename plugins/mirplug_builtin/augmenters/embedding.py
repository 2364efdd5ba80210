"""Generators in the embedding space of a frozen backbone: ``embedding_gaussian`` and ``embedding_smote``.

Both are fitted on the training split's window embeddings in well under a second and sample new
embedding rows of a class; no audio is made. Provenance of each row says where it came from.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mirplug import ConfigError, EmbeddingGenerator


class GaussianEmbeddings(EmbeddingGenerator):
    """Each class a Gaussian: its own mean, and a covariance shared by all classes (``covariance=shared``,
    estimated on the class-centred rows) or its own (``per_class``), shrunk towards a scaled identity with
    the Ledoit-Wolf coefficient (scikit-learn), so a few dozen rows in 1500 dimensions still give a proper
    distribution. Sampling never forms the ``dim x dim`` matrix: with centred rows ``X`` ``(n, dim)``,
    ``sqrt(1 - s) X^T g / sqrt(n) + sqrt(s mu) e`` (``g``, ``e`` standard normal) has exactly the shrunk
    covariance ``(1 - s) X^T X / n + s mu I``. ``scale`` multiplies the spread (1: as estimated)."""

    method = "gaussian"

    def __init__(self, per_class: int = 0, balance: bool = False, covariance: str = "shared", scale: float = 1.0) -> None:
        if covariance not in ("shared", "per_class"):
            raise ConfigError(f"augmenter embedding_gaussian: covariance={covariance!r}; choose shared or per_class")
        super().__init__(per_class, balance, covariance=covariance, scale=scale)

    def fit_model(self, embeddings: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> None:
        from sklearn.covariance import ledoit_wolf_shrinkage

        self.means = {c: embeddings[labels == c].mean(axis=0) for c in np.unique(labels)}
        centred = embeddings - np.stack([self.means[c] for c in labels])
        groups = ({c: centred[labels == c] for c in self.means} if self.options["covariance"] == "per_class"
                  else {c: centred for c in self.means})
        self.spread: dict[int, tuple[np.ndarray, float, float]] = {}
        for c, rows in groups.items():
            mu = float((rows ** 2).sum(axis=1).mean() / rows.shape[1]) if len(rows) else 0.0  # trace(S) / dim
            shrinkage = float(ledoit_wolf_shrinkage(rows, assume_centered=True)) if len(rows) > 1 else 1.0
            self.spread[int(c)] = (rows, shrinkage, mu)

    def sample_model(self, label: int, count: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, list[dict[str, Any]]]:
        rows, shrinkage, mu = self.spread[label]
        scale = float(self.options["scale"])
        low_rank = rng.standard_normal((count, len(rows))) @ rows / np.sqrt(max(1, len(rows)))
        isotropic = rng.standard_normal((count, rows.shape[1]))
        drawn = self.means[label] + scale * (np.sqrt(1 - shrinkage) * low_rank + np.sqrt(shrinkage * mu) * isotropic)
        made = [{"method": "gaussian", "covariance": self.options["covariance"], "shrinkage": round(shrinkage, 6),
                 "draw": i} for i in range(count)]
        return drawn, made


class SmoteEmbeddings(EmbeddingGenerator):
    """SMOTE (Chawla et al. 2002) per class: a new row lies on the segment between a training row and one of
    its ``neighbours`` nearest rows of the same class (Euclidean), at a uniform random position. A class with
    a single row is copied."""

    method = "smote"

    def __init__(self, per_class: int = 0, balance: bool = False, neighbours: int = 5) -> None:
        super().__init__(per_class, balance, neighbours=neighbours)

    def fit_model(self, embeddings: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> None:
        self.members = {int(c): np.flatnonzero(labels == c) for c in np.unique(labels)}
        self.embeddings = embeddings
        self.nearest: dict[int, np.ndarray] = {}
        for c, index in self.members.items():
            rows = embeddings[index]
            distances = ((rows[:, None, :] - rows[None, :, :]) ** 2).sum(-1)
            np.fill_diagonal(distances, np.inf)
            k = max(1, min(int(self.options["neighbours"]), len(index) - 1))
            self.nearest[c] = np.argsort(distances, axis=1, kind="stable")[:, :k]

    def sample_model(self, label: int, count: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, list[dict[str, Any]]]:
        index = self.members[label]
        drawn, made = [], []
        for _ in range(count):
            anchor = int(rng.integers(len(index)))
            if len(index) == 1:
                other, weight = anchor, 0.0
            else:
                other = int(self.nearest[label][anchor][rng.integers(self.nearest[label].shape[1])])
                weight = float(rng.uniform())
            a, b = self.embeddings[index[anchor]], self.embeddings[index[other]]
            drawn.append(a + weight * (b - a))
            made.append({"method": "smote", "rows": [int(index[anchor]), int(index[other])], "weight": round(weight, 6)})
        return np.stack(drawn), made
