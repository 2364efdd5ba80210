"""Generative augmentation in a run: fit generators on the training split, sample, report quality.

Synthetic clips are written as ordinary WAV files and appended to the training split as rows
with their provenance, so every representation, the feature cache and ``mirplug augment`` treat
them like any clip. They are added after the split and only to ``train``: validation and test
stay real. Quality is reported per generator: the Fréchet distance between real and synthetic
clips per class (FAD-style, on the embeddings of a frozen pretrained backbone chosen with
``eval.fad_backbone``, or on time-pooled log-mel statistics), train-on-synthetic-test-on-real
accuracy, a grid of real and synthetic spectrograms, and how many samples the optional
confidence filter kept.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.markup import escape

from mirplug.audio import DEFAULT_MAX_SECONDS, resample
from mirplug.build import isolated_random_state
from mirplug.components import Generator
from mirplug.errors import ConfigError, DataError
from mirplug.rundir import write_json
from mirplug.windows import decode_windows, window_length


def pooled(mels: torch.Tensor) -> np.ndarray:
    """Mean and standard deviation of each mel band over time: ``(n, mels, frames)`` -> ``(n, 2 * mels)``."""
    return torch.cat([mels.mean(dim=2), mels.std(dim=2)], dim=1).numpy()


# How a generator became ready (not what it is): kept out of metrics.json and quality.json, so the
# same command and seed write the same files whether the generator was fitted or read from the cache.
RUN_FACTS = ("fit_seconds", "reused_from_cache")

GENERATOR_RATE = 16000  # the sample rate generators are fitted and sampled at
LOGMEL_FEATURES = "mean and std over time of the generator's log-mel bands"
Embedder = Callable[[torch.Tensor, int], np.ndarray]


def fad_embedder(catalog: Any, config: Any) -> tuple[Embedder | None, str]:
    """The embedding function for the Fréchet distance chosen by ``eval.fad_backbone``, and its description.

    ``logmel`` gives ``(None, ...)``: :func:`quality_report` then uses time-pooled log-mel
    statistics. A backbone name builds that backbone (with the run's options when it is the
    run's backbone, else its defaults) and refuses one that is not a frozen pretrained network
    (:attr:`~mirplug.components.Backbone.frozen` and its own input normalisation), since the
    embeddings of an untrained network say little about realism. ``auto`` uses the run's
    backbone when it is such a network, else ``logmel``.
    """
    import copy

    from mirplug.config import Selection
    from mirplug.build import build_representation
    from mirplug.inference import feature_shape

    choice = str(config.eval.get("fad_backbone", "auto") or "auto")
    automatic = choice == "auto"
    if automatic:
        choice = config.backbone.name
    if choice == "logmel":
        return None, LOGMEL_FEATURES
    try:
        spec = catalog.get("backbone", choice)
    except ConfigError as exc:
        raise ConfigError(f"eval.fad_backbone: {exc}, or logmel") from None
    options = dict(config.backbone.options) if choice == config.backbone.name else spec.option_defaults()
    chosen = copy.copy(config)
    chosen.backbone = Selection(choice, options)
    with isolated_random_state():  # building a network draws its initial weights: the run's draws stay as they were
        representation = build_representation(catalog, chosen)
        window = window_length(config.data.options["clip_seconds"], representation.sample_rate)
        backbone = spec.build(options, input_shape=feature_shape(representation, window),
                              frame_rate=representation.frame_rate)
    if not backbone.frozen or backbone.standardize_input:
        if automatic:
            return None, LOGMEL_FEATURES
        raise ConfigError(f"eval.fad_backbone={choice}: not a frozen pretrained backbone, so its embeddings do not "
                          f"measure realism; choose one whose embeddings are frozen (see mirplug list backbones), or "
                          f"eval.fad_backbone=logmel")
    backbone.eval()

    @torch.no_grad()
    def embed(waves: torch.Tensor, sample_rate: int) -> np.ndarray:
        audio = torch.as_tensor(waves, dtype=torch.float32)
        if sample_rate != representation.sample_rate:
            audio = torch.from_numpy(np.stack([resample(w.numpy(), sample_rate, representation.sample_rate)
                                               for w in audio]))
        parts = [backbone(representation(audio[i:i + 16])) for i in range(0, len(audio), 16)]
        return torch.cat(parts).numpy() if parts else np.zeros((0, backbone.embedding_dim), dtype=np.float32)

    return embed, f"{choice} embeddings ({', '.join(f'{k}={v}' for k, v in sorted(options.items()))})"


def canonical(value: Any) -> Any:
    """``value`` with every mapping's keys sorted (a summary read back from JSON and a fresh one then agree)."""
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


def report_results(report: dict[str, Any]) -> dict[str, Any]:
    """What metrics.json keeps of a generator's report: its results, without the loss history or how it ran."""
    training = report.get("training", {})
    kept = {key: value for key, value in report.items() if key not in ("training", "run")}
    return {**kept, "training": {key: training[key] for key in Generator.SUMMARY_RESULTS if key in training}}


def with_provenance(dataset: Any) -> Any:
    """Add the provenance columns (real rows: ``synthetic=False``) if the dataset lacks them."""
    defaults = {"synthetic": False, "source_id": "", "augmenter": "", "augmenter_params": "{}", "generator_hash": ""}
    for column, value in defaults.items():
        if column not in dataset.column_names:
            dataset = dataset.add_column(column, [value] * len(dataset))
    return dataset


def real_classifier(features: np.ndarray, labels: torch.Tensor) -> Any:
    """Standardised logistic regression on pooled log-mel features of real clips."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(features, labels.numpy())


def confidence_filter(classifier: Any, synthetic: np.ndarray, synthetic_labels: torch.Tensor,
                      threshold: float) -> np.ndarray:
    """Keep-mask: ``classifier`` (trained on real clips) gives each synthetic clip's intended class at least
    ``threshold``; ``synthetic`` holds their pooled log-mel features."""
    probabilities = classifier.predict_proba(synthetic)
    columns = {label: i for i, label in enumerate(classifier.classes_)}
    confidence = np.array([probabilities[i, columns[int(y)]] if int(y) in columns else 0.0
                           for i, y in enumerate(synthetic_labels)])
    return confidence >= threshold


def quality_report(generator: Generator, name: str, real: torch.Tensor, real_labels: torch.Tensor,
                   synthetic: torch.Tensor, synthetic_labels: torch.Tensor, test: torch.Tensor | None,
                   test_labels: torch.Tensor | None, names: list[str], folder: Path,
                   embedder: tuple[Embedder | None, str] = (None, LOGMEL_FEATURES),
                   mels: tuple[torch.Tensor, torch.Tensor] | None = None, classifier: Any = None) -> dict[str, Any]:
    """Fréchet distance per class, train-on-synthetic-test-on-real accuracy and a spectrogram grid.

    ``embedder`` (see :func:`fad_embedder`) gives the embeddings of the Fréchet distance; the
    train-on-synthetic classifier always works on time-pooled log-mel statistics. ``mels``
    (real, synthetic log-mels) and ``classifier`` (:func:`real_classifier`) are reused when given.
    """
    from mirplug.quality import frechet_distance_per_class, spectrogram_grid

    real_mels, synthetic_mels = mels if mels is not None else (generator.log_mel(real), generator.log_mel(synthetic))
    embed, description = embedder
    real_embeddings, synthetic_embeddings = ((embed(real, generator.sample_rate), embed(synthetic, generator.sample_rate))
                                             if embed is not None else (pooled(real_mels), pooled(synthetic_mels)))
    report: dict[str, Any] = {
        "augmenter": name, "architecture": generator.architecture, "checkpoint_hash": generator.checkpoint_hash,
        "n_synthetic": int(len(synthetic)), "features": description,
        "frechet_distance": frechet_distance_per_class(real_embeddings, real_labels.numpy(), synthetic_embeddings,
                                                       synthetic_labels.numpy(), names),
    }
    if test is not None and test_labels is not None and len(set(synthetic_labels.tolist())) > 1:
        test_features = pooled(generator.log_mel(test))
        on_synthetic = real_classifier(pooled(synthetic_mels), synthetic_labels)
        on_real = classifier if classifier is not None else real_classifier(pooled(real_mels), real_labels)
        report["tstr_accuracy"] = float((on_synthetic.predict(test_features) == test_labels.numpy()).mean())
        report["trtr_accuracy"] = float((on_real.predict(test_features) == test_labels.numpy()).mean())
    spectrogram_grid(real_mels, real_labels, synthetic_mels, synthetic_labels, names,
                     folder / f"spectrograms_{name}.png")
    report["grid"] = f"spectrograms_{name}.png"
    return report


def synthesize(generators: list[tuple[str, Generator]], train: Any, test: Any, names: list[str], label_column: str,
               clip_seconds: float, folder: Path, seed: int, console: Any = None,
               embedder: tuple[Embedder | None, str] = (None, LOGMEL_FEATURES),
               max_seconds: float | None = None) -> tuple[Any, list[dict[str, Any]]]:
    """Fit (or load) each generator on ``train``, sample, write WAVs, append the rows to ``train``.

    Returns the training split with synthetic rows (and provenance columns) and one quality
    report per generator. ``test`` is used only to score train-on-synthetic-test-on-real.
    """
    import datasets

    if not label_column:
        raise ConfigError("generator augmenters (vae, gan) need a single-label task: they sample clips per class")
    train = with_provenance(train)
    reports, parts = [], [train]
    # every generator is fitted at GENERATOR_RATE on the same clips: decode them once
    max_seconds = DEFAULT_MAX_SECONDS if max_seconds is None else max_seconds
    windows, labels = decoded(train, label_column, clip_seconds, "train (generator)", max_seconds)
    held = decoded(test, label_column, clip_seconds, "test (quality)", max_seconds) if test is not None else None
    for name, generator in generators:
        check_plan(name, generator, labels, len(names))
        if console is not None:
            console.print(escape(f"fitting generator '{name}' on {len(labels)} training clips"), highlight=False)
        with isolated_random_state():
            ready = generator.fit_or_load(windows.waves, labels, names, GENERATOR_RATE, seed,
                                          folder / "generators" / name)
            waves, synthetic_labels = ready.sample(ready.plan_counts(labels), seed)
        report, kept = judged(ready, name, (windows.waves, labels), (waves, synthetic_labels), held, names, folder,
                              embedder)
        reports.append(report)
        mask = torch.from_numpy(kept)
        part = synthetic_rows(train, label_column, name, ready, waves[mask], synthetic_labels[mask],
                              np.flatnonzero(kept), names, folder, seed)
        if part is not None:
            parts.append(part)
    write_json(folder / "quality.json", [{k: v for k, v in report.items() if k != "run"} for report in reports])
    return datasets.concatenate_datasets(parts), reports


def decoded(split: Any, label_column: str, clip_seconds: float, what: str,
            max_seconds: float | None) -> tuple[Any, torch.Tensor]:
    """One window per clip of ``split`` at ``GENERATOR_RATE``, and the labels of the clips that decoded."""
    windows = decode_windows(split, GENERATOR_RATE, clip_seconds, 1, what, max_seconds=max_seconds)
    return windows, torch.as_tensor(np.asarray(split[label_column])[windows.rows], dtype=torch.long)


def check_plan(name: str, generator: Generator, labels: torch.Tensor, n_classes: int) -> None:
    """Before minutes of fitting: balancing classes that are already balanced plans no clip at all."""
    if type(generator).plan_counts is not Generator.plan_counts:
        return  # a plugin's own plan: its call
    if not sum(generator.plan_counts(labels, n_classes).values()):
        raise DataError(f"augmenter '{name}' would add no clips: with augmenter.balance=true every class of "
                        f"the training split already has as many clips as the largest "
                        f"({int(torch.bincount(labels).max()) if len(labels) else 0}); set "
                        f"augmenter.per_class=N to add N clips to every class")


def judged(ready: Generator, name: str, real: tuple[torch.Tensor, torch.Tensor],
           sampled: tuple[torch.Tensor, torch.Tensor], held: tuple[Any, torch.Tensor] | None, names: list[str],
           folder: Path, embedder: tuple[Embedder | None, str]) -> tuple[dict[str, Any], np.ndarray]:
    """The quality report of a generator's samples and which samples the confidence filter keeps."""
    (real_waves, labels), (waves, synthetic_labels) = real, sampled
    mels = ready.log_mel(real_waves), ready.log_mel(waves)
    classifier = real_classifier(pooled(mels[0]), labels)
    threshold = float(ready.options.get("filter_confidence", 0.0) or 0.0)
    kept = np.ones(len(waves), dtype=bool)
    if threshold > 0 and len(waves):
        kept = confidence_filter(classifier, pooled(mels[1]), synthetic_labels, threshold)
    report = quality_report(ready, name, real_waves, labels, waves, synthetic_labels,
                            held[0].waves if held is not None else None, held[1] if held is not None else None,
                            names, folder, embedder, mels, classifier)
    training = {key: value for key, value in ready.summary.items() if key not in RUN_FACTS}
    report.update({"filter_confidence": threshold, "sampled": int(len(waves)), "kept": int(kept.sum()),
                   "training": canonical(training),
                   "run": {"augmenter": name, **{key: ready.summary[key] for key in RUN_FACTS
                                                 if key in ready.summary}}})
    return report, kept


def synthetic_rows(train: Any, label_column: str, name: str, ready: Generator, waves: torch.Tensor,
                   labels: torch.Tensor, indices: np.ndarray, names: list[str], folder: Path, seed: int) -> Any:
    """The kept samples as WAV files under ``folder/synthetic`` and as dataset rows with their provenance
    (``indices``: their positions among the generator's samples); ``None`` when none is kept."""
    import datasets
    import soundfile

    rows: dict[str, list[Any]] = {column: [] for column in train.column_names}
    for wave, label_index, index in zip(waves, labels, indices):
        label = names[int(label_index)]
        path = folder / "synthetic" / name / label / f"{name}-{index:05d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(path), wave.numpy(), GENERATOR_RATE, subtype="PCM_16")
        row = {column: None for column in train.column_names}
        row.update({
            "audio": {"path": str(path), "bytes": None}, label_column: int(label_index),
            "id": f"synthetic/{name}/{label}/{path.name}", "synthetic": True, "source_id": "", "augmenter": name,
            "augmenter_params": json.dumps({"seed": seed, "index": int(index), "label": label,
                                            "architecture": ready.architecture}, sort_keys=True),
            "generator_hash": ready.checkpoint_hash,
        })
        for column in train.column_names:
            rows[column].append(row[column])
    if not rows["id"]:
        return None
    # datasets' Audio encoder needs torchcodec: build the audio column as a plain struct, then cast.
    plain = train.features.copy()
    plain["audio"] = {"bytes": datasets.Value("binary"), "path": datasets.Value("string")}
    return datasets.Dataset.from_dict(rows, features=plain).cast_column("audio", train.features["audio"])
