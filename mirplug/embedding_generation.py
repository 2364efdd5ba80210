"""Generators in embedding space inside a run: fit on the training embeddings, sample rows, report quality.

Augmenters of stage ``"embeddings"`` (:class:`mirplug.components.EmbeddingGenerator`) work after a
frozen backbone: they are fitted on the training split's window embeddings only, and the rows they
sample join the training split (never validation or test) before the head is fitted. Every row is
recorded in ``embedding_samples.csv`` (generator, class, the options and seed, and how it was made:
the training windows it came from, named by clip id and window, or the draw). ``embedding_quality.json``
holds, per generator, the Fréchet distance per class between real and synthetic rows (in the embedding
space itself) and the test accuracy of a logistic regression trained on synthetic rows only (TSTR) next
to one trained on the real rows (TRTR).

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mirplug.components import EmbeddingGenerator
from mirplug.errors import ConfigError
from mirplug.specs import AugmenterSpec

SAMPLES_FILE = "embedding_samples.csv"
QUALITY_FILE = "embedding_quality.json"


def build_embedding_generators(catalog: Any, config: Any) -> list[tuple[str, EmbeddingGenerator]]:
    """The chosen augmenters of stage ``"embeddings"``, built, in the order given."""
    built = []
    for selection in config.augmenters:
        spec = catalog.get("augmenter", selection.name)
        if not (isinstance(spec, AugmenterSpec) and spec.stage == "embeddings"):
            continue
        generator = spec.build(selection.options)
        if not isinstance(generator, EmbeddingGenerator):
            raise ConfigError(f"augmenter '{selection.name}' did not build an EmbeddingGenerator")
        built.append((selection.name, generator))
    return built


def _tstr(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray) -> float | None:
    """Test accuracy (per window) of a standardised logistic regression trained on ``train_x``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(set(train_y.tolist())) < 2 or not len(test_y):
        return None
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000)).fit(train_x, train_y)
    return float((model.predict(test_x) == test_y).mean())


def synthesize_embeddings(generators: list[tuple[str, EmbeddingGenerator]], on_embeddings: bool, task: Any,
                          embeddings: dict[str, torch.Tensor], window_targets: dict[str, torch.Tensor],
                          windows: dict[str, Any], ids: dict[str, list[str]], names: list[str], seed: int,
                          folder: Path) -> tuple[torch.Tensor, torch.Tensor, list[dict[str, Any]]]:
    """Fit every generator on the training rows, sample, record; returns (rows, window targets, reports).

    ``on_embeddings`` is False when the run could not compute the embeddings once (no frozen backbone,
    or augmenters that change the audio every epoch), which these generators refuse.
    """
    from mirplug.quality import frechet_distance_per_class
    from mirplug.rundir import write_csv, write_json

    if not on_embeddings:
        raise ConfigError(f"augmenter '{generators[0][0]}' samples embedding rows of a frozen backbone: choose a "
                          f"backbone that runs frozen (e.g. one with mode=frozen) and no augmenter that changes "
                          f"the audio or features every epoch")
    if task.label_kind != "single-label":
        raise ConfigError(f"augmenter '{generators[0][0]}' samples rows per class: it needs a single-label task")
    real_x = embeddings["train"].double().numpy()
    real_y = window_targets["train"].numpy().astype(int)
    test_x = embeddings["test"].double().numpy()
    test_y = window_targets["test"].numpy().astype(int)
    # a training row is named by its clip and its window within the clip
    clip = windows["train"].clip.numpy()
    first = {int(c): int(np.flatnonzero(clip == c)[0]) for c in np.unique(clip)}
    row_names = [f"{ids['train'][int(c)]}#{i - first[int(c)]}" for i, c in enumerate(clip)]
    rows, targets, records, reports = [], [], [], []
    for name, generator in generators:
        generator.fit(real_x, real_y, len(names), seed)
        drawn, labels, provenance = generator.sample(generator.plan_counts(real_y), seed)
        options = json.dumps({key: value for key, value in generator.options.items()}, sort_keys=True)
        for position, (label, made) in enumerate(zip(labels, provenance)):
            made = dict(made)
            if "rows" in made:
                made["rows"] = [row_names[int(r)] for r in made["rows"]]
            records.append({"row": len(records), "augmenter": name, "label": names[int(label)], "seed": seed,
                            "options": options, "provenance": json.dumps(made, sort_keys=True)})
        report = {"augmenter": name, "method": generator.method, "n_synthetic": int(len(labels)),
                  "features": "the frozen backbone's window embeddings"}
        if len(labels):
            report["frechet_distance"] = frechet_distance_per_class(real_x, real_y, drawn, labels, names)
            report["tstr_accuracy"] = _tstr(drawn, labels, test_x, test_y)
            report["trtr_accuracy"] = _tstr(real_x, real_y, test_x, test_y)
            rows.append(torch.as_tensor(drawn, dtype=embeddings["train"].dtype))
            targets.append(torch.as_tensor(labels, dtype=window_targets["train"].dtype))
        reports.append(report)
    write_csv(folder / SAMPLES_FILE, records, ["row", "augmenter", "label", "seed", "options", "provenance"])
    write_json(folder / QUALITY_FILE, reports)
    dim = embeddings["train"].shape[1]
    if not rows:
        return torch.zeros((0, dim)), torch.zeros(0, dtype=window_targets["train"].dtype), reports
    return torch.cat(rows), torch.cat(targets), reports
