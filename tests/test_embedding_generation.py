"""Generators in a frozen backbone's embedding space: rows per class, seeded, each with its provenance."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from mirplug.config import resolve
from mirplug.errors import ConfigError
from mirplug_builtin.augmenters.embedding import GaussianEmbeddings, SmoteEmbeddings

from test_probe import probe_catalog, run_probe, write_tones  # noqa: F401  (fixture)


def two_classes(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(0.0, 1.0, (6, 30)), rng.normal(5.0, 1.0, (4, 30))])
    return x, np.array([0] * 6 + [1] * 4)


@pytest.mark.parametrize("generator", [GaussianEmbeddings(per_class=7), SmoteEmbeddings(per_class=7)])
def test_rows_per_class_are_seeded_and_stay_near_their_class(generator):
    x, y = two_classes()
    generator.fit(x, y, 2, seed=0)
    rows, labels, provenance = generator.sample(generator.plan_counts(y), seed=3)
    assert rows.shape == (14, 30) and labels.tolist() == [0] * 7 + [1] * 7 and len(provenance) == 14
    again, _, _ = generator.sample(generator.plan_counts(y), seed=3)
    np.testing.assert_array_equal(rows, again)
    assert not np.array_equal(rows, generator.sample(generator.plan_counts(y), seed=4)[0])
    # every row is closer to its own class mean than to the other one
    means = np.stack([x[y == 0].mean(0), x[y == 1].mean(0)])
    nearest = ((rows[:, None, :] - means[None]) ** 2).sum(-1).argmin(1)
    assert nearest.tolist() == labels.tolist()


def test_smote_rows_lie_between_two_rows_of_their_class_as_recorded():
    x, y = two_classes()
    generator = SmoteEmbeddings(per_class=5, neighbours=2).fit(x, y, 2, seed=0)
    rows, labels, provenance = generator.sample({0: 5, 1: 5}, seed=1)
    for row, label, made in zip(rows, labels, provenance):
        a, b = made["rows"]
        assert y[a] == y[b] == label
        np.testing.assert_allclose(row, x[a] + made["weight"] * (x[b] - x[a]), rtol=1e-5, atol=1e-5)


def test_balance_brings_every_class_up_to_the_largest():
    x, y = two_classes()
    generator = GaussianEmbeddings(balance=True).fit(x, y, 2, seed=0)
    assert generator.plan_counts(y) == {0: 0, 1: 2}


def test_a_run_adds_rows_to_training_only_with_provenance_and_quality(probe_catalog, tmp_path):  # noqa: F811
    data = write_tones(tmp_path / "tones")
    real = run_probe(probe_catalog, data, tmp_path / "runs", "name=real")
    result = run_probe(probe_catalog, data, tmp_path / "runs", "augmenter=embedding_smote",
                       "augmenter.per_class=6", "name=smote")
    assert result.metrics["n_synthetic_embeddings"] == 3 * 6
    assert result.metrics["n_train"] == real.metrics["n_train"]  # real clips; validation and test unchanged
    assert result.metrics["n_test"] == real.metrics["n_test"]
    with open(result.folder / "embedding_samples.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 18 and {row["augmenter"] for row in rows} == {"embedding_smote"}
    made = json.loads(rows[0]["provenance"])
    # the source windows are named by clip id and window: training clips of the row's class
    assert all(name.split("/")[0] == rows[0]["label"] for name in (part.split("#")[0] for part in made["rows"]))
    quality = json.loads((result.folder / "embedding_quality.json").read_text())
    assert quality[0]["n_synthetic"] == 18 and set(quality[0]["frechet_distance"]) == {"high", "low", "middle"}
    assert json.loads((result.folder / "probe.json").read_text())["refit_on"]["extra_rows"] == 18


def test_embedding_generators_need_a_frozen_backbone_and_rows_to_add(probe_catalog, tmp_path):  # noqa: F811
    from mirplug.runner import run

    with pytest.raises(ConfigError, match="per_class"):
        resolve(probe_catalog, ["augmenter=embedding_gaussian"])
    config = resolve(probe_catalog, ["task=genre", "data=audiofolder", f"data.path={write_tones(tmp_path / 't', 4)}",
                                     "data.clip_seconds=0.5", "backbone=linear", "augmenter=embedding_gaussian",
                                     "augmenter.per_class=2", f"out={tmp_path}"])
    with pytest.raises(ConfigError, match="frozen backbone"):
        run(config, probe_catalog)
