"""One run: config -> components -> dataset -> split -> decode -> features -> train -> test -> run folder."""

from __future__ import annotations

import json
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mirplug import __version__
from mirplug.cache import (CachedWindows, decode_windows_cached, embed_cached, embedding_settings, feature_store,
                           featurize_cached, featurizer_while_decoding, min_samples_of, representation_settings)
from mirplug.catalog import Catalog
from mirplug.components import Generator, Representation, Task, Transform
from mirplug.config import DATA_OPTIONS, RunConfig
from mirplug.data import SPLITS, Windows, imbalance, split_dataset, subsample_per_class
from mirplug.errors import ConfigError, DataError, RunError, RunInterrupted
from mirplug.model import (CentroidHead, build_model, build_representation, embed, feature_shape,
                           fit_backbone_to_features)
from mirplug.rundir import (CONFIG_FILE, RUN_FACTS_FILE, SavedModel, check_out_folder, is_finished, new_run_folder,
                            read_yaml, save_model, write_csv, write_json, write_yaml)
from mirplug.specs import AugmenterSpec
from mirplug.training import (CHECKPOINT_FOLDER, Batches, Checkpoint, LoopSettings, atomic_write_json, epochs_for, fit,
                              run_lock, saved_threads)


@dataclass
class RunResult:
    """Where the run folder is and what the test split scored."""

    folder: Path
    metrics: dict[str, Any]


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def deterministic_setup(device: torch.device) -> None:
    """Ask the libraries for repeatable results on ``device``.

    On the CPU the same thread count gives the same numbers (see the README); on a GPU cuDNN
    is told to pick deterministic algorithms and not to benchmark (which picks by timing).
    """
    if device.type == "cuda":
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def pick_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then MPS, then the CPU; an unavailable device is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device=cuda but torch sees no CUDA device; use train.device=cpu or auto")
    return torch.device(name)


def build_task(catalog: Catalog, config: RunConfig) -> Task:
    """The task component."""
    task = catalog.get("task", config.task.name).build(config.task.options)
    if not isinstance(task, Task):
        raise ConfigError(f"task '{config.task.name}' did not build a Task")
    return task


def build_generators(catalog: Catalog, config: RunConfig) -> list[tuple[str, Generator]]:
    """The chosen generator augmenters (fitted on the training split, then sampled), in order."""
    generators = []
    for selection in config.augmenters:
        spec = catalog.get("augmenter", selection.name)
        if isinstance(spec, AugmenterSpec) and spec.stage == "generator":
            generator = spec.build(selection.options)
            if not isinstance(generator, Generator):
                raise ConfigError(f"augmenter '{selection.name}' did not build a Generator")
            generators.append((selection.name, generator))
    return generators


def build_transforms(catalog: Catalog, config: RunConfig) -> list[tuple[str, Transform]]:
    """The chosen transform augmenters as (name, transform), in the order given."""
    transforms = []
    for selection in config.augmenters:
        spec = catalog.get("augmenter", selection.name)
        assert isinstance(spec, AugmenterSpec)
        if spec.stage == "generator":
            continue
        transform = spec.build(selection.options)
        if not isinstance(transform, Transform):
            raise ConfigError(f"augmenter '{selection.name}' did not build a Transform")
        transforms.append((selection.name, transform))
    return transforms


def load_dataset(catalog: Catalog, config: RunConfig) -> Any:
    """The dataset from its plugin (core data options are not passed on)."""
    own = {k: v for k, v in config.data.options.items() if k not in {o.name for o in DATA_OPTIONS}}
    return catalog.get("dataset", config.data.name).build(own, task=config.task.name)


def progress_bar(console: Console) -> Progress:
    """The progress display used by every stage."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                    transient=True)


@torch.no_grad()
def predict_clips(model: torch.nn.Module, task: Task, features: torch.Tensor, windows: Windows, device: torch.device,
                  frame_rate: float | None = None, batch_size: int = 64) -> tuple[Any, torch.Tensor]:
    """One prediction per clip (the task aggregates its windows) and the raw window outputs.

    ``model`` is the whole model, or only its head when a frozen backbone's embeddings are the features.
    """
    model.eval()
    parts = [model(features[i:i + batch_size].to(device)).cpu() for i in range(0, len(features), batch_size)]
    outputs = torch.cat(parts)
    return task.aggregate(outputs, windows, len(windows.rows), frame_rate), outputs


def preflight(catalog: Catalog, config: RunConfig) -> tuple[RunConfig, Task, Representation, str | None]:
    """The checks that need the built task and representation but no data: both build, and the backbone takes
    the representation's features (:func:`mirplug.model.fit_backbone_to_features`). Sweeps run it for every
    grid point before the first run.

    Returns the config (with a fitting backbone when the task's default did not fit), the task, the
    representation and a note to print when the backbone was replaced.
    """
    task = build_task(catalog, config)
    representation = build_representation(catalog, config)
    config, note = fit_backbone_to_features(catalog, config, representation, task)
    return config, task, representation, note


def run(config: RunConfig, catalog: Catalog, console: Console | None = None,
        resume: str | Path | None = None) -> RunResult:
    """Train and evaluate as configured; write the run folder; return its path and test metrics.

    ``resume`` is the folder of an interrupted run made with this config: finished folds are
    kept, the interrupted training continues from its last checkpoint, and the run ends with
    the files an uninterrupted run writes. A ``KeyboardInterrupt`` after the run folder exists
    becomes :class:`~mirplug.errors.RunInterrupted`, which names the folder.
    """
    console = console or Console(stderr=True)
    started = time.time()
    seed_everything(config.seed)
    if config.train["threads"]:
        torch.set_num_threads(config.train["threads"])
    device = pick_device(config.train["device"])
    deterministic_setup(device)

    # Build every component before touching data, so a bad setting fails at once.
    check_out_folder(config.out)
    config, task, representation, note = preflight(catalog, config)
    if note:
        console.print(f"[yellow]note:[/] {escape(note)}", soft_wrap=True, highlight=False)
    transforms = build_transforms(catalog, config)
    generators = build_generators(catalog, config)
    if generators:
        from mirplug.generation import fad_embedder

        embedder = fad_embedder(catalog, config)  # a bad eval.fad_backbone fails here, before any data
    window_samples = max(1, int(round(config.data.options["clip_seconds"] * representation.sample_rate)))
    input_shape = feature_shape(representation, window_samples)
    if config.representation.name != "waveform" and catalog.get("backbone", config.backbone.name).expects == "waveform":
        console.print(escape(f"backbone '{config.backbone.name}' brings its own front end: audio is decoded and "
                             f"resampled to {representation.sample_rate} Hz; representation "
                             f"'{config.representation.name}' is not used"))

    dataset = load_dataset(catalog, config)
    label_column = stratify_column(task)
    import datasets as hf_datasets

    names = task.label_names(dataset["train"] if isinstance(dataset, hf_datasets.DatasetDict) else dataset)
    folds = config.eval["folds"]
    predefined = isinstance(dataset, hf_datasets.DatasetDict)
    if folds > 1:
        split_sets = kfold_splits(dataset, label_column, folds, config.split["validation"], config.seed)
    else:
        split_sets = [split_dataset(dataset, label_column, config.split["validation"], config.split["test"],
                                    config.seed)]

    folder = open_run_folder(config, resume)
    try:
        with run_lock(folder):
            if resume is not None and is_finished(folder):  # another process finished it while we waited
                raise RunError(f"{folder} is finished already ({RUN_FACTS_FILE} is there); nothing to resume")
            metrics, generator_facts = _run_folds(config, catalog, console, task, representation, transforms,
                                                  generators, embedder if generators else None, input_shape, names,
                                                  split_sets, device, folder)
            metrics.update({
                "seed": config.seed,
                "split": {"validation": config.split["validation"], "test": config.split["test"],
                          "predefined": predefined, "folds": folds},
                "labels": names,
                "main_metric": task.main_metric,
                "device": str(device),
                # results depend on the thread count (float rounding of parallel reductions): see the README
                "threads": torch.get_num_threads() if device.type == "cpu" else None,
                "mirplug_version": __version__,
            })
            # metrics.json holds results only, so the same command and seed give the same file; how the
            # run went (time taken, what came from the cache) is in run.json, written last: a run folder
            # with run.json is finished, and its checkpoints are no longer needed.
            write_json(folder / "metrics.json", metrics)
            write_json(folder / RUN_FACTS_FILE, run_facts(started, device, generator_facts, resumed=resume is not None))
            shutil.rmtree(folder / CHECKPOINT_FOLDER, ignore_errors=True)
    except KeyboardInterrupt as exc:
        raise RunInterrupted(folder) from exc
    print_results(Console(), folder, metrics)
    return RunResult(folder, metrics)


def open_run_folder(config: RunConfig, resume: str | Path | None) -> Path:
    """A new run folder holding ``config.yaml``, or the folder of the interrupted run to resume.

    A resumed folder must hold the same config (``out`` and ``name`` aside: the folder may have
    moved) and no ``run.json``. Its runs continue with the thread count they started with
    unless ``train.threads`` sets one, since results depend on it.
    """
    if resume is None:
        folder = new_run_folder(config.out, config.task.name, config.name)
        write_yaml(folder / CONFIG_FILE, config.to_dict())
        return folder
    import yaml

    folder = Path(resume)
    if is_finished(folder):
        raise RunError(f"{folder} is finished already ({RUN_FACTS_FILE} is there); nothing to resume")
    if not (folder / CONFIG_FILE).is_file():
        raise RunError(f"{folder} is not a run folder (no {CONFIG_FILE})")
    saved, wanted = read_yaml(folder / CONFIG_FILE), yaml.safe_load(yaml.safe_dump(config.to_dict()))
    for key in ("out", "name"):
        saved.pop(key, None)
        wanted.pop(key, None)
    if saved != wanted:
        changed = sorted(key for key in {*saved, *wanted} if saved.get(key) != wanted.get(key))
        raise RunError(f"{folder} was run with another config ({', '.join(changed)} differ); resume it with the "
                       f"config in its {CONFIG_FILE}")
    threads = saved_threads(folder / CHECKPOINT_FOLDER)
    if threads and not config.train["threads"] and threads != torch.get_num_threads():
        torch.set_num_threads(threads)
    return folder


def _run_folds(config: RunConfig, catalog: Catalog, console: Console, task: Task, representation: Representation,
               transforms: list[tuple[str, Transform]], generators: list[tuple[str, Generator]], embedder: Any,
               input_shape: tuple[int, ...], names: list[str], split_sets: list[dict[str, Any]], device: torch.device,
               folder: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run every fold (one without k-fold) into ``folder``; the metrics (fold summary) and the generator facts.

    A finished fold's results are kept in ``checkpoint/fold-N.json``, so a resumed run skips it.
    """
    folds = len(split_sets)
    checkpoints = folder / CHECKPOINT_FOLDER
    fold_metrics = []
    generator_facts: list[dict[str, Any]] = []
    for fold, splits in enumerate(split_sets, start=1):
        if folds > 1:
            console.print(f"fold {fold} of {folds}")
        finished_fold = checkpoints / f"fold-{fold}.json"
        if finished_fold.is_file():
            kept = json.loads(finished_fold.read_text())
            fold_metrics.append(kept["metrics"])
            generator_facts += kept["generators"]
            console.print(f"fold {fold}: finished before the interruption, results kept")
            continue
        target = folder if folds == 1 else folder / f"fold-{fold}"
        target.mkdir(exist_ok=True)
        splits["train"] = restrict_training(splits["train"], task, config, console)
        if generators:
            from mirplug.generation import synthesize

            # Fitted on the training split only; synthetic rows join train, never validation or test.
            splits["train"], reports = synthesize(generators, splits["train"], splits["test"], names,
                                                  class_column(task) or "", config.data.options["clip_seconds"], target,
                                                  config.seed, console, embedder,
                                                  max_seconds=config.data.options["max_seconds"])
        training = Checkpoint(checkpoints, f"training-{fold}")
        fold_metrics.append(_train_evaluate(config, catalog, console, task, representation, transforms, input_shape,
                                            names, splits, device, target, training))
        facts: list[dict[str, Any]] = []
        if generators:
            from mirplug.generation import report_results

            fold_metrics[-1]["n_synthetic"] = sum(report["kept"] for report in reports)
            fold_metrics[-1]["generators"] = [report_results(report) for report in reports]
            facts = [{"fold": fold, **report["run"]} for report in reports]
            generator_facts += facts
        checkpoints.mkdir(exist_ok=True)
        atomic_write_json(finished_fold, {"metrics": fold_metrics[-1], "generators": facts,
                                          "threads": torch.get_num_threads()})
        training.remove()
    metrics = fold_metrics[0] if folds == 1 else summarize_folds(fold_metrics, task.main_metric)
    return metrics, generator_facts


def run_facts(started: float, device: torch.device, generators: list[dict[str, Any]],
              resumed: bool = False) -> dict[str, Any]:
    """What ``run.json`` says about how the run went (not its results): times, versions, cache use.

    Its presence marks a finished run (``status``); ``resumed`` says the run was interrupted and
    continued, and the duration then counts the last part only.
    """
    import datetime
    import platform

    return {
        "status": "finished",
        "resumed": resumed,
        "started": datetime.datetime.fromtimestamp(started, datetime.timezone.utc).isoformat(timespec="seconds"),
        "duration_seconds": round(time.time() - started, 2),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "versions": {"mirplug": __version__, "torch": torch.__version__, "python": platform.python_version()},
        "generators": generators,
    }


def class_column(task: Task) -> str | None:
    """The column of a single-label task's class (per-class subsampling, imbalance, generators)."""
    return task.label_column if task.label_kind == "single-label" else None


def stratify_column(task: Task) -> str | None:
    """The column splits are stratified by: the class, unless the task turns stratification off."""
    return class_column(task) if task.stratify else None


def restrict_training(train: Any, task: Task, config: RunConfig, console: Console | None = None) -> Any:
    """The training split after ``data.per_class`` and ``data.imbalance`` (validation and test stay whole)."""
    options = config.data.options
    if options.get("per_class"):
        train, short = subsample_per_class(train, class_column(task), options["per_class"], config.seed)
        if short and console is not None:
            console.print(f"[yellow]data.per_class={options['per_class']}:[/] labels with fewer training clips "
                          f"keep them all ({escape(', '.join(short))})")
    if options.get("imbalance", 1.0) > 1.0:
        train = imbalance(train, class_column(task), options["imbalance"], config.seed)
    return train


FEW_STEPS = 100  # early stopping before this many optimizer steps gets a note (see _train_evaluate)


def _train_evaluate(config: RunConfig, catalog: Catalog, console: Console, task: Task, representation: Representation,
                    transforms: list[tuple[str, Transform]], input_shape: tuple[int, ...], names: list[str],
                    splits: dict[str, Any], device: torch.device, folder: Path,
                    checkpoint: Checkpoint | None = None) -> dict[str, Any]:
    """Decode, featurize, train with early stopping, score once on test; write outputs into ``folder``.

    With ``checkpoint``, training saves its state there after every epoch and continues from it
    when it holds one (a resumed run).
    """

    # Decoded windows and features are cached per clip content and settings (mirplug.cache).
    # Waveform-augmented training batches are computed on the fly by training.Batches and need every
    # window; without waveform augmenters, clips with cached features skip their windows.
    feature_settings = representation_settings(config.representation.name, config.representation.options,
                                               representation, config.data.options["clip_seconds"],
                                               config.data.options["max_windows"])
    skip_waves = not any(transform.stage == "waveform" for _, transform in transforms)
    windows: dict[str, CachedWindows] = {}
    with progress_bar(console) as progress:
        for split in SPLITS:
            windows[split] = decode_windows_cached(splits[split], representation.sample_rate,
                                                   config.data.options["clip_seconds"],
                                                   config.data.options["max_windows"], split, progress,
                                                   min_samples_of(representation),
                                                   feature_store(feature_settings) if skip_waves else None,
                                                   featurizer_while_decoding(representation, device),
                                                   keep_windows=config.data.options["cache_windows"],
                                                   max_seconds=config.data.options["max_seconds"])
    skipped = [row for split in SPLITS for row in windows[split].skipped]
    for row in skipped:
        console.print(f"[yellow]skipped[/] {escape(row['path'])}: {escape(row['reason'])}", soft_wrap=True,
                      highlight=False)
    check_nothing_lost(splits, windows, class_column(task), names, skipped, folder)

    kept = {split: splits[split].select(windows[split].rows) for split in SPLITS}
    targets = {split: task.clip_targets(kept[split]) for split in SPLITS}
    ids = {split: list(kept[split]["id"]) if "id" in kept[split].column_names
           else [str(i) for i in windows[split].rows] for split in SPLITS}

    with progress_bar(console) as progress:
        bar = progress.add_task(f"features ({config.representation.name})", total=len(SPLITS))
        features = {}
        for split in SPLITS:
            features[split] = featurize_cached(representation, feature_settings, windows[split], device)
            progress.advance(bar)

    # Seeded here, not only at the start: whatever ran before (generating the dataset or fitting a
    # generator on a cold cache, nothing on a warm one) must not change the initial weights and dropout.
    seed_everything(config.seed)
    model = build_model(catalog, config, task, input_shape, representation.frame_rate, len(names))
    n_frames = None
    if task.frame_level:
        with torch.no_grad():
            n_frames = int(model.eval()(features["train"][:1]).shape[-1])
    window_targets = {split: task.window_targets(kept[split], windows[split], model.backbone.frame_rate, n_frames)
                      for split in SPLITS}
    if model.backbone.standardize_input:
        model.standardize.fit(features["train"])
    model = model.to(device)
    # A frozen backbone (without waveform/feature augmenters) is run once: its embeddings
    # become the features and only the head trains, as with any cached features.
    net: torch.nn.Module = model
    if model.backbone.frozen and not transforms and not task.frame_level:
        with progress_bar(console) as progress:
            bar = progress.add_task(f"embeddings ({config.backbone.name}, frozen)", total=len(SPLITS))
            # cached per clip like features: another head, seed or split of the same audio skips the backbone
            settings = embedding_settings(config.backbone.name, config.backbone.options, model, feature_settings)
            for split in SPLITS:
                features[split] = embed_cached(model, settings, features[split], windows[split], device)
                progress.advance(bar)
        net = model.head
    if isinstance(model.head, CentroidHead):
        train_embeddings = features["train"] if net is model.head else embed(model, features["train"], device)
        model.head.fit(train_embeddings.to(device), window_targets["train"].to(device))
    trainable = [p for p in net.parameters() if p.requires_grad]
    # foreach: one kernel call per state tensor kind instead of a loop over parameters; the same weights
    # bit for bit as the default for-loop on the CPU (benchmarks/speed.py checks), a little faster.
    optimizer = (torch.optim.AdamW(trainable, lr=config.train["lr"], weight_decay=config.train["weight_decay"],
                                   foreach=True) if trainable else None)
    batches = Batches(representation, windows["train"], features["train"], window_targets["train"], transforms,
                      config.seed, device, ids["train"])
    n_windows = len(windows["train"].clip)
    batch_size = config.train["batch_size"]
    # the centroid head has nothing to train: no epochs
    epochs = 0 if isinstance(model.head, CentroidHead) else config.train["epochs"]
    min_steps = int(config.train.get("min_steps", 0) or 0)
    epochs = epochs_for(epochs, min_steps, n_windows, batch_size)

    def validate() -> tuple[float, float]:
        predictions, outputs = predict_clips(net, task, features["validation"], windows["validation"], device,
                                             model.backbone.frame_rate)
        loss = float(task.loss(outputs, window_targets["validation"]).item())
        return loss, float(task.metrics(targets["validation"], predictions, names)[task.main_metric])

    if checkpoint is not None and checkpoint.epoch() is not None:
        console.print(f"training continues from its checkpoint after epoch {checkpoint.epoch()}", highlight=False)
    with progress_bar(console) as progress:
        fitted, stopping = fit(net, optimizer, task, batches, n_windows, validate,
                               LoopSettings(epochs, batch_size, config.train["patience"], min_steps, config.seed,
                                            config.train.get("mixup_alpha", 0.0)),
                               progress, checkpoint, config.backbone.name)
    history, steps = fitted.history, fitted.steps
    if fitted.stopped_early and steps < FEW_STEPS:
        # With few clips an epoch is one or two optimizer steps, so patience (in epochs) stops
        # training before it has started; the few-label ablations measured this.
        console.print(f"[yellow]note:[/] early stopping after {steps} optimizer steps ({len(history)} epochs of "
                      f"{n_windows} windows at train.batch_size={batch_size}); with this few examples the model is "
                      f"likely under-trained: try train.min_steps=300 (or train.epochs=200 train.patience=40)",
                      soft_wrap=True, highlight=False)

    net.load_state_dict(stopping.best_state)
    results = {}
    probabilities = {}
    for split in ("validation", "test"):
        probabilities[split], _ = predict_clips(net, task, features[split], windows[split], device,
                                                model.backbone.frame_rate)
        results[split] = task.metrics(targets[split], probabilities[split], names)

    metrics = {
        **results["test"],
        "n_train": len(windows["train"].rows),
        "n_validation": len(windows["validation"].rows),
        "n_test": len(windows["test"].rows),
        "n_skipped": len(skipped),
        "validation": results["validation"],
        "epochs_run": len(history),
        "optimizer_steps": steps,
        "best_epoch": fitted.best_epoch,
    }
    write_json(folder / "metrics.json", metrics)
    write_csv(folder / "history.csv", history)
    rows = task.prediction_rows(probabilities["test"], names)
    true = targets["test"]
    write_csv(folder / "predictions.csv", [
        {"id": ids["test"][i], "label": task.format_target(true[i], names), **row}
        for i, row in enumerate(rows)
    ])
    write_csv(folder / "skipped.csv", skipped, ["split", "id", "path", "reason"])
    if batches.records:
        write_csv(folder / "augmentations.csv", batches.records)
    save_model(folder, model, SavedModel(names, input_shape, representation.frame_rate))
    task.plots(folder, true, probabilities["test"], names)
    learning_curves(folder, history, task.main_metric)
    return metrics


def check_nothing_lost(splits: dict[str, Any], windows: dict[str, CachedWindows], label_column: str | None,
                       names: list[str], skipped: list[dict[str, str]], folder: Path) -> None:
    """Stop the run when a split, or a label within a split, lost every clip to decoding.

    A label with no decodable training clip would be left untrained, and one with none in
    validation or test would drop out of the averaged metrics without a word; either way the
    numbers would not describe the dataset the user gave. ``skipped.csv`` is written first, so
    the one-line error can point at the reasons.
    """
    lost = [split for split in SPLITS if not windows[split].rows]
    labels: list[tuple[str, str, int]] = []
    if label_column and not lost:
        for split in SPLITS:
            before = np.bincount(np.asarray(splits[split][label_column], dtype=np.int64), minlength=len(names))
            kept = np.bincount(np.asarray(splits[split][label_column], dtype=np.int64)[windows[split].rows],
                               minlength=len(names))
            labels += [(names[i], split, int(before[i])) for i in range(len(names)) if before[i] and not kept[i]]
    if not lost and not labels:
        return
    write_csv(folder / "skipped.csv", skipped, ["split", "id", "path", "reason"])
    where = folder / "skipped.csv"
    if lost:
        raise DataError(f"no clip of the {lost[0]} split could be decoded ({len(windows[lost[0]].skipped)} skipped; "
                        f"the reasons are in {where})")
    name = labels[0][0]
    lost_in = [(split, count) for label, split, count in labels if label == name]
    present_in = [split for split in SPLITS if name in {names[int(i)] for i in set(splits[split][label_column])}]
    what = (f"all {sum(count for _, count in lost_in)} of its clips" if len(lost_in) == len(present_in) else
            " and ".join(f"all {count} of its {split} clips" for split, count in lost_in))
    others = len({label for label, _, _ in labels}) - 1
    more = f" (as did {others} other label(s))" if others else ""
    raise DataError(f"label '{name}' lost {what} to decoding{more}; the reasons are in {where}: fix or remove those "
                    f"files, or remove the label, and run again")


def kfold_splits(dataset: Any, label_column: str | None, folds: int, validation: float,
                 seed: int) -> list[dict[str, Any]]:
    """``folds`` train/validation/test splits: each fold is the test set once (stratified when labelled)."""
    import datasets as hf_datasets
    from sklearn.model_selection import KFold, StratifiedKFold

    from mirplug.data import _carve, _check_counts

    if isinstance(dataset, hf_datasets.DatasetDict):
        dataset = hf_datasets.concatenate_datasets([dataset[name] for name in dataset])
    if label_column:
        _check_counts(dataset, label_column, folds, f"for eval.folds={folds}")
        splitter: Any = StratifiedKFold(folds, shuffle=True, random_state=seed)
        labels = np.asarray(dataset[label_column])
    else:
        if len(dataset) < 2 * folds:
            raise DataError(f"eval.folds={folds} needs at least {2 * folds} clips; the dataset has {len(dataset)}")
        splitter, labels = KFold(folds, shuffle=True, random_state=seed), None
    result = []
    for rest, test in splitter.split(np.zeros(len(dataset)), labels):
        train, held = _carve(dataset.select(sorted(rest)), label_column, validation, seed, "validation")
        result.append({"train": train, "validation": held, "test": dataset.select(sorted(test))})
    return result


def summarize_folds(fold_metrics: list[dict[str, Any]], main_metric: str) -> dict[str, Any]:
    """Mean and 95% confidence interval (t-distribution) of every scalar test metric across folds."""
    from scipy import stats

    summary: dict[str, Any] = {"folds": len(fold_metrics), "per_fold": fold_metrics}
    n = len(fold_metrics)
    for key, value in fold_metrics[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            values = np.array([m[key] for m in fold_metrics], dtype=float)
            summary[key] = float(values.mean())
            if not key.startswith(("n_", "epochs_", "best_")):
                summary[f"{key}_ci95"] = float(stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / np.sqrt(n))
    summary["validation"] = {main_metric: float(np.mean([m["validation"][main_metric] for m in fold_metrics]))}
    return summary


def learning_curves(folder: Path, history: list[dict[str, Any]], metric: str) -> None:
    """Plot training and validation loss and the validation metric per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(epochs, [h["train_loss"] for h in history], label="train")
    left.plot(epochs, [h["validation_loss"] for h in history], label="validation")
    left.set_xlabel("epoch")
    left.set_ylabel("loss")
    left.legend()
    right.plot(epochs, [h[f"validation_{metric}"] for h in history], color="tab:green")
    right.set_xlabel("epoch")
    right.set_ylabel(f"validation {metric}")
    figure.tight_layout()
    figure.savefig(folder / "learning_curves.png", dpi=110)
    plt.close(figure)


def print_results(console: Console, folder: Path, metrics: dict[str, Any]) -> None:
    """The results table: headline metrics, then per-class scores when the task has them."""
    if metrics.get("split", {}).get("folds", 1) > 1:
        table = Table(title=f"results: {metrics['folds']}-fold cross-validation (test folds), seed {metrics['seed']}")
        for column in ("metric", "mean", "95% CI"):
            table.add_column(column, justify="left" if column == "metric" else "right")
        for key, value in metrics.items():
            if f"{key}_ci95" in metrics:
                table.add_row(key, f"{value:.4f}", f"± {metrics[f'{key}_ci95']:.4f}")
        console.print(table)
        console.print(f"run folder: {escape(str(folder))} (one fold-N/ folder per fold)", highlight=False)
        return
    table = Table(title=f"results ({metrics['n_test']} test clips, seed {metrics['seed']})")
    table.add_column("metric")
    table.add_column("validation", justify="right")
    table.add_column("test", justify="right")
    for key, value in metrics.items():
        if isinstance(value, float) and key in metrics["validation"]:
            table.add_row(key, f"{metrics['validation'][key]:.4f}", f"{value:.4f}")
    console.print(table)
    if isinstance(metrics.get("per_class"), dict):
        per_class = Table(title="per class (test)")
        for column in ("class", "precision", "recall", "f1", "support"):
            per_class.add_column(column, justify="left" if column == "class" else "right")
        for name, scores in metrics["per_class"].items():
            per_class.add_row(escape(name), *(f"{scores[k]:.3f}" for k in ("precision", "recall", "f1")),
                              str(scores["support"]))
        console.print(per_class)
    console.print(f"run folder: {escape(str(folder))}", highlight=False)
