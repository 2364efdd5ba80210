"""Generators in a run: fitted on train only, synthetic rows in train only, a quality report; the ablation."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from conftest import TINY

from mirplug.ablate import arms_for, paired_differences
from mirplug.config import resolve
from mirplug.data import imbalance
from mirplug.errors import ConfigError
from mirplug.runner import run

FAST_VAE = ["augmenter=vae", "augmenter.steps=3", "augmenter.per_class=2", "augmenter.min_clips_per_class=2"]
FAST_VAE_ARM = " ".join(FAST_VAE)


def test_synthetic_rows_join_training_only_with_provenance_and_a_quality_report(catalog, tmp_path):
    config = resolve(catalog, [*TINY, "data.styles=3", "backbone.channels=4", *FAST_VAE, f"out={tmp_path}"])
    result = run(config, catalog)
    folder = result.folder
    assert result.metrics["n_synthetic"] == 3 * 2
    # 24 real clips: 15 train, 9 held out; the 6 synthetic ones join train only
    assert result.metrics["n_train"] == 15 + 6
    assert result.metrics["n_validation"] + result.metrics["n_test"] == 9
    test_ids = [row["id"] for row in csv.DictReader(open(folder / "predictions.csv"))]
    assert not any(i.startswith("synthetic/") for i in test_ids)
    wavs = sorted((folder / "synthetic" / "vae").rglob("*.wav"))
    assert len(wavs) == 6 and {w.parent.name for w in wavs} == {"rock", "electronic", "jazz"}
    (report,) = json.loads((folder / "quality.json").read_text())
    assert set(report["frechet_distance"]) == {"rock", "electronic", "jazz"}
    assert 0.0 <= report["tstr_accuracy"] <= 1.0 and report["kept"] == report["sampled"] == 6
    assert (folder / "spectrograms_vae.png").exists()
    assert (folder / "generators" / "vae" / "generator.safetensors").exists()


def test_a_fitted_generator_is_reused_from_its_checkpoint(catalog, tmp_path):
    first = run(resolve(catalog, [*TINY, "data.styles=2", "backbone.channels=4", *FAST_VAE,
                                  f"out={tmp_path / 'a'}"]), catalog)
    checkpoint = first.folder / "generators" / "vae"
    second = run(resolve(catalog, [*TINY, "data.styles=2", "backbone.channels=4", *FAST_VAE,
                                   f"augmenter.checkpoint={checkpoint}", f"out={tmp_path / 'b'}"]), catalog)
    hashes = [json.loads((r.folder / "quality.json").read_text())[0]["checkpoint_hash"] for r in (first, second)]
    assert hashes[0] == hashes[1]


def test_the_frechet_distance_uses_a_chosen_pretrained_backbone(catalog, tmp_path):
    from mirplug.generation import LOGMEL_FEATURES, fad_embedder

    base = [*TINY, "data.styles=2", "backbone.channels=4", *FAST_VAE]
    # default with a CNN trained from scratch: log-mel statistics
    assert fad_embedder(catalog, resolve(catalog, base))[1] == LOGMEL_FEATURES
    # ...and with a frozen pretrained backbone as the run's backbone, that backbone
    frozen = [o for o in base if not o.startswith("backbone.")] + ["backbone=musicnn", "backbone.layer=penultimate"]
    assert fad_embedder(catalog, resolve(catalog, frozen))[1].startswith("musicnn embeddings (head=linear, "
                                                                         "layer=penultimate")
    # a CNN is not a measure of realism: refused before any data is read
    with pytest.raises(ConfigError, match="eval.fad_backbone=nope: unknown backbone 'nope'.*; or auto, logmel"):
        resolve(catalog, [*base, "eval.fad_backbone=nope"])  # the name is checked with the other values
    with pytest.raises(ConfigError, match="eval.fad_backbone=cnn: not a frozen pretrained backbone"):
        run(resolve(catalog, [*base, "eval.fad_backbone=cnn", f"out={tmp_path}"]), catalog)
    result = run(resolve(catalog, [*base, "eval.fad_backbone=musicnn", f"out={tmp_path}"]), catalog)
    (report,) = json.loads((result.folder / "quality.json").read_text())
    assert report["features"].startswith("musicnn embeddings (") and "weights=MSD" in report["features"]
    distances = report["frechet_distance"]
    assert set(distances) == {"rock", "electronic"} and all(np.isfinite(v) and v > 0 for v in distances.values())
    # the embedder itself: one pooled musicnn embedding per clip, resampled from any rate
    embed, _ = fad_embedder(catalog, resolve(catalog, [*base, "eval.fad_backbone=musicnn"]))
    waves = torch.randn(3, 22050) * 0.1
    embeddings = embed(waves, 22050)
    assert embeddings.shape[0] == 3 and embeddings.ndim == 2 and np.isfinite(embeddings).all()
    assert not np.allclose(embeddings[0], embeddings[1])


def test_a_generator_needs_a_single_label_task(catalog, tmp_path):
    with pytest.raises(ConfigError, match="need a single-label task"):
        run(resolve(catalog, ["task=mood", *TINY, *FAST_VAE, f"out={tmp_path}"]), catalog)


def test_imbalance_keeps_one_over_r_of_the_last_label():
    import datasets

    data = datasets.Dataset.from_dict({"label": [0] * 20 + [1] * 20 + [2] * 20},
                                      features=datasets.Features({"label": datasets.ClassLabel(names=["a", "b", "c"])}))
    counts = np.bincount(imbalance(data, "label", 4.0, seed=0)["label"])
    assert counts.tolist() == [20, 10, 5]


def test_ablation_arms_and_paired_differences():
    common, arms = arms_for(["task=genre", "augmenter=vae", "augmenter.per_class=5", "seed=0,1"], "gain")
    assert common == ["task=genre", "seed=0,1"]
    assert arms == ["augmenter=", "augmenter=vae augmenter.per_class=5", "augmenter=gain"]
    # per-run columns a sweep may add (here: a different value in every row) do not break the pairing
    rows = [{"arm": arm, "seed": str(seed), "macro_f1": value, "a_new_column": f"{arm}{seed}"}
            for arm, values in zip(arms, ([0.5, 0.6], [0.6, 0.8], [0.5, 0.5])) for seed, value in enumerate(values)]
    table = paired_differences(rows, arms, "macro_f1", ["seed"])
    assert [(row["arm"], row["mean_difference"]) for row in table] == [(arms[1], 0.15), (arms[2], -0.05)]
    from scipy import stats

    half = stats.t.ppf(0.975, 1) * np.std([0.1, 0.2], ddof=1) / np.sqrt(2)
    assert table[0]["ci95_low"] == round(0.15 - half, 4)


def test_ablate_command_on_a_tiny_config_fits_each_generator_once(tmp_path, monkeypatch):
    import subprocess
    import sys
    from pathlib import Path

    monkeypatch.setenv("MIRPLUG_CACHE_DIR", str(tmp_path / "cache"))  # no generator fitted by other tests
    more = " ".join(FAST_VAE).replace("augmenter.per_class=2", "augmenter.per_class=3")
    mirplug = str(Path(sys.executable).parent / "mirplug")
    result = subprocess.run([mirplug, "ablate", "task=genre", *TINY, "data.styles=2", "backbone.channels=4",
                             *FAST_VAE, "seed=0,1", "--arm", more, "--classical", "gain", "--out", str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    (folder,) = list((tmp_path / "out").iterdir())
    table = list(csv.DictReader(open(folder / "ablation.csv")))
    assert [row["arm"] for row in table] == [" ".join(FAST_VAE), more, "augmenter=gain"]
    assert all(row["n_seeds"] == "2" for row in table)
    assert (folder / "ablation.png").exists() and (folder / "ablation.md").exists()
    # two epochs of tiny data: real only trains for a few optimizer steps, and the table says so
    assert "Note: the arms trained for different numbers of optimizer steps" in (folder / "ablation.md").read_text()
    runs = list(csv.DictReader(open(folder / "runs.csv")))
    assert len(runs) == 8
    # the second VAE arm differs only in how many clips it samples: it reuses the first arm's fit per seed
    for seed in ("0", "1"):
        first, second = ([json.loads((folder / row["folder"] / "generators" / "vae" / "generator.json").read_text())
                          for row in runs if row["arm"] == arm and row["seed"] == seed] for arm in (FAST_VAE_ARM, more))
        assert "reused_from_cache" not in first[0]["training"] and "reused_from_cache" in second[0]["training"]
        assert first[0]["sha256"] == second[0]["sha256"]
    fits = [path for path in (tmp_path / "cache" / "generators").iterdir() if path.is_dir()]  # not the lock files
    assert len(fits) == 2  # one fit per seed


def test_training_length_note_only_when_steps_differ_or_are_few():
    from mirplug.ablate import training_length_note

    arms = ["augmenter=", "augmenter=vae"]

    def rows(real, vae):
        return [{"arm": arms[0], "optimizer_steps": str(real)}, {"arm": arms[1], "optimizer_steps": str(vae)}]

    assert training_length_note(rows(400, 500), arms) == ""
    assert "real only: 13, augmenter=vae: 100" in training_length_note(rows(13, 100), arms)
    assert "real only: 200, augmenter=vae: 900" in training_length_note(rows(200, 900), arms)
    assert training_length_note([{"arm": arms[0], "optimizer_steps": ""}], arms) == ""  # older runs.csv


def test_confidence_filter_keeps_only_clips_the_real_data_classifier_recognises():
    from mirplug.generation import confidence_filter, real_classifier

    rng = np.random.default_rng(0)
    real = np.concatenate([rng.normal(-3, 0.3, (10, 4)), rng.normal(3, 0.3, (10, 4))])
    classifier = real_classifier(real, torch.tensor([0] * 10 + [1] * 10))
    # a clip like class 0 labelled 0 (kept), a clip like class 0 labelled 1 (dropped), one between the two
    synthetic = np.array([[-3.0] * 4, [-3.0] * 4, [0.0] * 4])
    kept = confidence_filter(classifier, synthetic, torch.tensor([0, 1, 1]), threshold=0.9)
    assert kept.tolist() == [True, False, False]
    assert confidence_filter(classifier, synthetic, torch.tensor([0, 1, 1]), threshold=0.0).all()
