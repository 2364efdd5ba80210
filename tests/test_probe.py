"""backbone.head=probe: a linear probe on frozen embeddings, its regularisation chosen on held-out data.

A third-party frozen backbone (declared frozen through the Backbone contract, not known by name) is
probed end to end on tiny audio written to disk.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from mirplug.catalog import Catalog
from mirplug.components import Backbone
from mirplug.config import resolve
from mirplug.errors import ConfigError
from mirplug.hookspecs import hookimpl
from mirplug.plugins import load_plugins
from mirplug.probe import C_GRID, ProbeData, ProbeHead, fit_probe
from mirplug.specs import BackboneSpec, Option

FREQUENCIES = {"low": 220.0, "middle": 660.0, "high": 1760.0}


class BandMeans(Backbone):
    """A frozen 'pretrained' backbone: the mean of every feature channel over time."""

    frozen = True
    standardize_input = False

    def __init__(self, input_shape: tuple[int, ...], frame_rate: float | None = None, head: str = "linear") -> None:
        super().__init__()
        self.embedding_dim = input_shape[0]
        self.head_kind = head

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features.mean(dim=-1)


class BandMeansPlugin:
    @hookimpl
    def mirplug_register_backbones(self):
        return [BackboneSpec(name="bandmeans", summary="frozen band means", factory=BandMeans, expects="frames",
                             license="MIT", options=(Option(name="head", type=str, default="linear",
                                                            choices=("linear", "probe")),))]


@pytest.fixture
def probe_catalog() -> Catalog:
    host = load_plugins()
    host.register(BandMeansPlugin(), "bandmeans")
    return Catalog.from_host(host)


def write_tones(folder: Path, per_class: int = 14, seconds: float = 1.0, rate: int = 16000) -> Path:
    """A folder of noisy tones, one sub-folder per pitch class; deterministic."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    for name, freq in FREQUENCIES.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            wave = 0.3 * np.sin(2 * np.pi * freq * (1 + rng.uniform(-0.03, 0.03)) * t) + 0.2 * rng.standard_normal(len(t))
            soundfile.write(str(folder / name / f"{name}-{i:02d}.wav"), wave.astype(np.float32), rate)
    return folder


def shuffle_labels(folder: Path, target: Path) -> Path:
    """The same files under shuffled class folders (as many per class as before)."""
    files = sorted(folder.rglob("*.wav"))
    labels = [path.parent.name for path in files]
    rng = np.random.default_rng(1)
    for path, label in zip(files, rng.permutation(labels)):
        (target / label).mkdir(parents=True, exist_ok=True)
        (target / label / path.name).write_bytes(path.read_bytes())
    return target


def run_probe(catalog: Catalog, data: Path, out: Path, *extra: str):
    from mirplug.runner import run

    config = resolve(catalog, ["task=genre", "data=audiofolder", f"data.path={data}", "data.clip_seconds=0.5",
                               "backbone=bandmeans", "backbone.head=probe", "representation=mel", "split.test=0.3",
                               "split.validation=0.3", f"out={out}", *extra])
    return run(config, catalog)


def test_the_probe_learns_separable_classes_and_not_shuffled_labels(probe_catalog, tmp_path):
    data = write_tones(tmp_path / "tones")
    result = run_probe(probe_catalog, data, tmp_path / "runs")
    with open(result.folder / "predictions.csv") as handle:
        truth = [row["label"] for row in csv.DictReader(handle)]
    constant = max(truth.count(name) for name in FREQUENCIES) / len(truth)  # best constant prediction
    assert result.metrics["epochs_run"] == 0  # fitted once by scikit-learn, not trained
    assert result.metrics["accuracy"] >= 0.95 > constant + 0.5
    shuffled = run_probe(probe_catalog, shuffle_labels(data, tmp_path / "shuffled"), tmp_path / "runs", "name=shuffled")
    assert shuffled.metrics["accuracy"] < constant + 0.3

    # the fitted probe is an ordinary head: predict loads it and gives the run's probabilities
    from mirplug.predict import load_run, predict_files

    with open(result.folder / "predictions.csv") as handle:
        first = next(csv.DictReader(handle))
    (row,) = predict_files(load_run(result.folder, probe_catalog), [str(data / first["id"])])
    assert row["prediction"] == first["prediction"]
    assert row["probability"] == pytest.approx(float(first["probability"]), abs=1e-5)


def test_the_run_records_the_grid_and_the_choice_in_probe_json(probe_catalog, tmp_path):
    result = run_probe(probe_catalog, write_tones(tmp_path / "tones"), tmp_path / "runs")
    record = json.loads((result.folder / "probe.json").read_text())
    assert record["parameter"] == "C" and record["grid"] == list(C_GRID)
    assert record["selection"] == "validation"  # 4 validation clips per class
    assert [row["C"] for row in record["scores"]] == list(C_GRID)
    top = max(row["macro_f1"] for row in record["scores"])
    tied = [row for row in record["scores"] if row["macro_f1"] == top]
    lowest = min(tied, key=lambda row: row["loss"])
    # the strongest regularisation (smallest C) among the best, within one standard error of the lowest loss
    assert record["chosen"] == {"C": min(row["C"] for row in tied if row["loss"] <= lowest["loss"] + lowest["loss_se"])}
    assert record["refit_on"]["clips"] == result.metrics["n_train"] + result.metrics["n_validation"]


def blobs(n_clips: int, windows: int, seed: int, shift: float = 1.5, dim: int = 20) -> ProbeData:
    """Three classes of clips, each clip ``windows`` noisy windows around its class centre in the first 2 dims."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n_clips) % 3
    centres = np.array([[0, 0], [shift, 0], [0, shift]])
    x = rng.standard_normal((n_clips * windows, dim))
    clip = np.repeat(np.arange(n_clips), windows)
    x[:, :2] += centres[labels[clip]]
    return ProbeData(x, labels[clip], clip, labels)


def genre_task():
    from mirplug_builtin.tasks.classification import ClassificationTask

    return ClassificationTask()


def test_C_is_chosen_by_the_validation_scores_of_each_fit(tmp_path):
    """Every recorded score is the validation macro-F1 of a logistic regression fitted with that C on train."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    train, validation = blobs(30, 2, seed=0), blobs(15, 2, seed=1)
    head = ProbeHead(20, 3)
    record = fit_probe(head, genre_task(), train, validation, ["a", "b", "c"], seed=0)
    assert record["selection"] == "validation"
    mean, scale = train.x.mean(0), train.x.std(0)
    for row in record["scores"]:
        model = LogisticRegression(C=row["C"], max_iter=2000).fit((train.x - mean) / scale, train.y)
        window_p = model.predict_proba((validation.x - mean) / scale)
        clip_p = np.stack([window_p[validation.clip == c].mean(0) for c in range(validation.n_clips)])
        assert row["macro_f1"] == pytest.approx(f1_score(validation.clip_targets, clip_p.argmax(1), average="macro"))
    # then refitted on train + validation with the chosen C: the head gives that model's probabilities
    both = np.concatenate([train.x, validation.x])
    mean, scale = both.mean(0), both.std(0)
    model = LogisticRegression(C=record["chosen"]["C"], max_iter=2000).fit((both - mean) / scale,
                                                                          np.concatenate([train.y, validation.y]))
    probe = head(torch.as_tensor(validation.x, dtype=torch.float32)).softmax(-1).detach().numpy()
    np.testing.assert_allclose(probe, model.predict_proba((validation.x - mean) / scale), atol=1e-4)


def test_the_one_standard_error_rule_prefers_the_simpler_probe_among_equals():
    from mirplug.probe import choose

    rows = [{"C": 0.01, "macro_f1": 0.9, "loss": 0.50, "loss_se": 0.05},
            {"C": 0.1, "macro_f1": 1.0, "loss": 0.30, "loss_se": 0.05},
            {"C": 1.0, "macro_f1": 1.0, "loss": 0.22, "loss_se": 0.05},
            {"C": 10.0, "macro_f1": 1.0, "loss": 0.20, "loss_se": 0.05}]
    assert choose(rows, "C", "macro_f1")["C"] == 1.0  # 0.22 <= 0.20 + 0.05 < 0.30; 0.01 scores lower
    rows[0]["macro_f1"] = 1.0
    assert choose(rows, "C", "macro_f1")["C"] == 1.0
    ridge = [{"alpha": a, "r2": 0.5, "loss": loss, "loss_se": 0.1} for a, loss in ((1, 1.0), (10, 1.05), (100, 2.0))]
    assert choose(ridge, "alpha", "r2")["alpha"] == 10  # larger alpha regularises more


def test_a_small_validation_split_falls_back_to_cross_validation():
    train, validation = blobs(12, 2, seed=0), blobs(3, 2, seed=1)  # one validation clip per class
    record = fit_probe(ProbeHead(20, 3), genre_task(), train, validation, ["a", "b", "c"], seed=0)
    assert record["selection"].startswith("5-fold cross-validation")
    assert record["refit_on"]["clips"] == 15


def test_the_scores_come_from_the_validation_labels():
    """The same training data with a validation split whose labels agree with training scores high; with its
    labels shuffled, every C scores low: the ranking is made on validation."""
    train, held = blobs(60, 1, seed=0, shift=4.0, dim=5), blobs(30, 1, seed=1, shift=4.0, dim=5)
    good = fit_probe(ProbeHead(5, 3), genre_task(), train, held, ["a", "b", "c"], 0)
    order = np.random.default_rng(5).permutation(30)
    shuffled = ProbeData(held.x, held.y[order], held.clip, held.clip_targets[order])
    bad = fit_probe(ProbeHead(5, 3), genre_task(), train, shuffled, ["a", "b", "c"], 0)
    assert max(row["macro_f1"] for row in good["scores"]) > 0.85
    assert max(row["macro_f1"] for row in bad["scores"]) < 0.6


def test_a_trained_backbone_or_a_frame_task_is_refused(probe_catalog, tmp_path):
    from mirplug.model import build_head
    from mirplug_builtin.tasks.beats import EventTask

    class Trained(BandMeans):
        frozen = False

    with pytest.raises(ConfigError, match="frozen backbone"):
        build_head(genre_task(), Trained((8, 10), head="probe"), 3)
    with pytest.raises(ConfigError, match="per frame"):
        build_head(EventTask(), BandMeans((8, 10), head="probe"), 1)
