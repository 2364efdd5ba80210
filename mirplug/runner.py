"""One run: prepare -> fit -> evaluate -> write, fold by fold, into a run folder.

:func:`run` builds every component first (:mod:`mirplug.build`), loads and splits the dataset
(:mod:`mirplug.data`), then for each fold decodes and featurizes the splits (:mod:`mirplug.windows`,
:mod:`mirplug.inference`), trains (:mod:`mirplug.training`), scores validation and test once and
writes the fold's files (:mod:`mirplug.rundir`). What the folds share is one :class:`RunContext`.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import json
import shutil
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mirplug import __version__
from mirplug.build import (build_generators, build_loggers, build_model, build_transforms, deterministic_setup,
                           head_options_of,
                           load_dataset, pick_device, preflight, seed_everything)
from mirplug.cache import embedding_settings, feature_store, representation_settings
from mirplug.catalog import Catalog
from mirplug.checkpoint import CHECKPOINT_FOLDER, Checkpoint, saved_threads
from mirplug.components import Generator, Representation, Task, Transform
from mirplug.config import RunConfig
from mirplug.distributed import Ranks, from_main, local_batch, main_first, ranks_from_environment, start, stop
from mirplug.data import SPLITS, class_column, kfold_splits, restrict_training, split_dataset, stratify_column
from mirplug.errors import ConfigError, DataError, RunError, RunInterrupted
from mirplug.inference import (embed, embed_rows, feature_shape, featurize_rows, featurizer_while_decoding,
                               predict_clips)
from mirplug.lifecycle import Lifecycle
from mirplug.model import CentroidHead, MirModel
from mirplug.probe import ProbeHead, fit_probe_in_run
from mirplug.paths import cache_dir
from mirplug.rows import MappedRows, Rows, as_rows
from mirplug.rundir import (CONFIG_FILE, RUN_FACTS_FILE, SavedModel, atomic_write_json, check_out_folder, is_finished,
                            learning_curves, new_run_folder, read_yaml, run_lock, save_model, write_csv, write_json,
                            write_yaml)
from mirplug.stats import summarize_folds
from mirplug.training import FEW_STEPS, Batches, EarlyStopping, Fitted, LoopSettings, epochs_for, fit
from mirplug.windows import CachedWindows, decode_windows, min_samples_of, window_length


@dataclass
class RunResult:
    """Where the run folder is and what the test split scored."""

    folder: Path
    metrics: dict[str, Any]


@dataclass
class RunContext:
    """What every fold of a run shares: the resolved config and the components built from it."""

    config: RunConfig
    catalog: Catalog
    console: Console
    device: torch.device
    task: Task
    representation: Representation
    transforms: list[tuple[str, Transform]]
    generators: list[tuple[str, Generator]]
    embedder: Any  # the Fréchet-distance embedder of generator quality reports (None without generators)
    input_shape: tuple[int, ...]
    loggers: list[tuple[str, Any]]  # the chosen loggers: (name, plugin object)
    names: list[str] = field(default_factory=list)  # the label names, once the dataset is loaded
    hooks: Lifecycle | None = None  # the lifecycle hooks, while the run is on (rank 0's only)
    folder: Path | None = None  # the run folder, once it exists
    ranks: Ranks = field(default_factory=Ranks)  # data-parallel processes (torchrun); rank 0 writes


@dataclass
class FoldData:
    """One fold's clips, ready for the model: per split, the windows, features, targets, ids and dataset rows."""

    windows: dict[str, CachedWindows]
    features: dict[str, Rows]  # read from the cache a batch at a time, never held for a whole split
    targets: dict[str, Any]  # clip targets (what the metrics compare with)
    ids: dict[str, list[str]]
    kept: dict[str, Any]  # the dataset rows that decoded
    skipped: list[dict[str, str]]
    feature_settings: dict[str, Any]
    window_targets: dict[str, torch.Tensor] = field(default_factory=dict)  # training targets, set with the model
    # rows of embedding-space generators (embeddings, window targets), kept apart for a probe head
    synthetic: tuple[torch.Tensor, torch.Tensor] | None = None
    embedding_reports: list[dict[str, Any]] = field(default_factory=list)


def progress_bar(console: Console) -> Progress:
    """The progress display used by every stage."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                    transient=True)


def run(config: RunConfig, catalog: Catalog, console: Console | None = None,
        resume: str | Path | None = None) -> RunResult:
    """Train and evaluate as configured; write the run folder; return its path and test metrics.

    ``resume`` is the folder of an interrupted run made with this config: finished folds are
    kept, the interrupted training continues from its last checkpoint, and the run ends with
    the files an uninterrupted run writes. A ``KeyboardInterrupt`` after the run folder exists
    becomes :class:`~mirplug.errors.RunInterrupted`, which names the folder.
    """
    ranks = ranks_from_environment()  # several processes when torchrun started this one
    console = console or Console(stderr=True)
    if not ranks.main:
        console = Console(quiet=True)  # rank 0 alone speaks, writes and calls the lifecycle hooks
    started = time.time()
    try:
        context = setup(config, catalog, console, ranks)
        # a bad logger fails before any data
        with Lifecycle(catalog.host.manager, console, context.loggers) if ranks.main else nullcontext() as hooks:
            context.hooks = hooks
            split_sets, predefined = load_splits(context)
            folder = context.folder = Path(from_main(
                str(open_run_folder(context.config, resume)) if ranks.main else None, ranks))
            metrics = run_in_folder(context, split_sets, predefined, started, resume)
    finally:
        stop(ranks)
    if ranks.main:
        print_results(Console(), folder, metrics)
    return RunResult(folder, metrics)


def run_in_folder(context: RunContext, split_sets: list[dict[str, Any]], predefined: bool, started: float,
                  resume: str | Path | None) -> dict[str, Any]:
    """Every fold, then ``metrics.json`` and ``run.json``, holding the run folder's lock; the run's metrics.

    The lifecycle hooks hear of the start and the end (finished, failed or interrupted) of the run. With
    several processes, the others train alongside rank 0 and write nothing.
    """
    folder, hooks = context.folder, context.hooks
    assert folder is not None
    if not context.ranks.main:
        return run_folds(context, split_sets, folder)[0]
    assert hooks is not None
    metrics: dict[str, Any] = {}
    status = ""
    try:
        with run_lock(folder):
            if resume is not None and is_finished(folder):  # another process finished it while we waited
                raise RunError(f"{folder} is finished already ({RUN_FACTS_FILE} is there); nothing to resume")
            hooks.run_start(context.config.to_dict(), folder)
            status = "failed"
            metrics, generator_facts = run_folds(context, split_sets, folder)
            metrics.update(run_summary(context, predefined, len(split_sets)))
            extra = hooks.run_metrics(folder, metrics)
            if extra:  # each plugin's own metrics under its name; none: metrics.json as without plugins
                metrics["plugins"] = extra
            # metrics.json holds results only, so the same command and seed give the same file; how the
            # run went (time taken, what came from the cache) is in run.json, written last: a run folder
            # with run.json is finished, and its checkpoints are no longer needed.
            write_json(folder / "metrics.json", metrics)
            write_json(folder / RUN_FACTS_FILE, run_facts(started, context.device, generator_facts,
                                                          resumed=resume is not None))
            shutil.rmtree(folder / CHECKPOINT_FOLDER, ignore_errors=True)
            status = "finished"
    except KeyboardInterrupt as exc:
        status = "interrupted" if status else status
        raise RunInterrupted(folder) from exc
    finally:
        if status:  # the run started
            hooks.run_end(folder, metrics if status == "finished" else {}, status)
    return metrics


def setup(config: RunConfig, catalog: Catalog, console: Console, ranks: Ranks | None = None) -> RunContext:
    """Seed, pick the device and build every component before touching data, so a bad setting fails at once.

    With several processes (``ranks``), each joins the process group on its own device.
    """
    ranks = ranks or Ranks()
    seed_everything(config.seed)
    if config.train["threads"]:
        torch.set_num_threads(config.train["threads"])
    check_processes(config, catalog, ranks)
    device = start(ranks, pick_device(config.train["device"]))
    deterministic_setup(device)
    check_out_folder(config.out)
    cache_dir()  # a MIRPLUG_CACHE_DIR that is a file is one line here, not a failure deep in the run
    config, task, representation, note = preflight(catalog, config)
    if note:
        console.print(f"[yellow]note:[/] {escape(note)}", soft_wrap=True, highlight=False)
    transforms = build_transforms(catalog, config)
    generators = build_generators(catalog, config)
    embedder = None
    if generators:
        from mirplug.generation import fad_embedder

        embedder = fad_embedder(catalog, config)  # a bad eval.fad_backbone fails here, before any data
    input_shape = feature_shape(representation,
                                window_length(config.data.options["clip_seconds"], representation.sample_rate))
    # said only when the user chose the representation that the backbone's own front end leaves unused
    if (not config.representation_default
            and catalog.get("backbone", config.backbone.name).expects == "waveform"):  # type: ignore[attr-defined]
        console.print(escape(f"backbone '{config.backbone.name}' brings its own front end: audio is decoded and "
                             f"resampled to {representation.sample_rate} Hz; representation "
                             f"'{config.representation.name}' is not used"))
    loggers = build_loggers(catalog, config)  # a logger that rejects its options fails here, before any data
    return RunContext(config, catalog, console, device, task, representation, transforms, generators, embedder,
                      input_shape, loggers, ranks=ranks)


def check_processes(config: RunConfig, catalog: Catalog, ranks: Ranks) -> None:
    """Under torchrun, ``train.processes`` is the number of processes it started (``config.yaml`` records it), the
    global ``train.batch_size`` must split evenly between them, and what runs in one process only is refused."""
    from mirplug.config import check_processes as check_for_one_process

    if not ranks.active:
        if config.train["processes"] > 1:
            raise ConfigError(f"train.processes={config.train['processes']} but this process was not started by "
                              f"torchrun: run it with 'mirplug run' (which starts torchrun) or torchrun "
                              f"--nproc_per_node={config.train['processes']} -m mirplug run ...")
        return
    if config.train["processes"] not in (1, ranks.world):
        raise ConfigError(f"train.processes={config.train['processes']}, but torchrun started {ranks.world} processes; "
                          f"give the same number (or leave train.processes out)")
    config.train["processes"] = ranks.world
    local_batch(config.train["batch_size"], ranks)
    check_for_one_process(ranks.world, config.backbone.options, [selection.name for selection in config.augmenters],
                          [catalog.get("augmenter", selection.name) for selection in config.augmenters])


def load_splits(context: RunContext) -> tuple[list[dict[str, Any]], bool]:
    """The train/validation/test splits of every fold (one without k-fold), and whether the dataset came split.

    Sets ``context.names``, the label names.
    """
    import datasets as hf_datasets

    config, task = context.config, context.task
    dataset = load_dataset(context.catalog, config)
    label_column = stratify_column(task)
    predefined = isinstance(dataset, hf_datasets.DatasetDict)
    context.names = task.label_names(dataset["train"] if predefined else dataset)
    if config.eval["folds"] > 1:
        return kfold_splits(dataset, label_column, config.eval["folds"], config.split["validation"],
                            config.seed), predefined
    return [split_dataset(dataset, label_column, config.split["validation"], config.split["test"],
                          config.seed)], predefined


def run_summary(context: RunContext, predefined: bool, folds: int) -> dict[str, Any]:
    """What ``metrics.json`` says besides the scores: seed, split, labels, device, threads, version."""
    config, device = context.config, context.device
    return {
        "seed": config.seed,
        "split": {"validation": config.split["validation"], "test": config.split["test"],
                  "predefined": predefined, "folds": folds},
        "labels": context.names,
        "main_metric": context.task.main_metric,
        "device": str(device),
        # results depend on the thread count (float rounding of parallel reductions): see the README
        "threads": torch.get_num_threads() if device.type == "cpu" else None,
        "mirplug_version": __version__,
    }


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
    with_new_defaults(saved, wanted)
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


def with_new_defaults(saved: dict[str, Any], wanted: dict[str, Any]) -> None:
    """Give ``saved`` (a run's config.yaml) the core options added since it was written, where ``wanted`` has their
    default: a run started by an older mirplug resumes (e.g. ``train.precision``, ``train.processes``)."""
    from mirplug.config import SECTIONS

    for section, options in SECTIONS.items():
        if not isinstance(saved.get(section), dict):
            continue
        for option in options:
            if option.name not in saved[section] and wanted.get(section, {}).get(option.name) == option.default:
                saved[section][option.name] = option.default


def run_folds(context: RunContext, split_sets: list[dict[str, Any]],
              folder: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run every fold (one without k-fold) into ``folder``; the metrics (fold summary) and the generator facts.

    A finished fold's results are kept in ``checkpoint/fold-N.json``, so a resumed run skips it.
    """
    folds = len(split_sets)
    fold_metrics = []
    generator_facts: list[dict[str, Any]] = []
    for fold, splits in enumerate(split_sets, start=1):
        if folds > 1:
            context.console.print(f"fold {fold} of {folds}")
        finished_fold = folder / CHECKPOINT_FOLDER / f"fold-{fold}.json"
        if finished_fold.is_file():
            kept = json.loads(finished_fold.read_text())
            fold_metrics.append(kept["metrics"])
            generator_facts += kept["generators"]
            context.console.print(f"fold {fold}: finished before the interruption, results kept")
            continue
        target = folder if folds == 1 else folder / f"fold-{fold}"
        if context.ranks.main:
            target.mkdir(exist_ok=True)
        metrics, facts = run_fold(context, fold, splits, target, folder / CHECKPOINT_FOLDER)
        fold_metrics.append(metrics)
        generator_facts += facts
    metrics = fold_metrics[0] if folds == 1 else summarize_folds(fold_metrics, context.task.main_metric)
    return metrics, generator_facts


def run_fold(context: RunContext, fold: int, splits: dict[str, Any], target: Path,
             checkpoints: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One fold into ``target``: the training split restricted and augmented by generators, then trained and
    scored; its results are saved in ``checkpoints/fold-N.json`` before its training checkpoint is removed."""
    config = context.config
    splits["train"] = restrict_training(splits["train"], class_column(context.task), config.data.options,
                                        config.seed, context.console)
    reports: list[dict[str, Any]] = []
    if context.generators:
        from mirplug.generation import synthesize

        # Fitted on the training split only; synthetic rows join train, never validation or test.
        splits["train"], reports = synthesize(context.generators, splits["train"], splits["test"], context.names,
                                              class_column(context.task) or "", config.data.options["clip_seconds"],
                                              target, config.seed, context.console, context.embedder,
                                              max_seconds=config.data.options["max_seconds"])
    training = Checkpoint(checkpoints, f"training-{fold}")
    metrics = train_evaluate(context, fold, splits, target, training)
    facts: list[dict[str, Any]] = []
    if context.generators:
        from mirplug.generation import report_results

        metrics["n_synthetic"] = sum(report["kept"] for report in reports)
        metrics["generators"] = [report_results(report) for report in reports]
        facts = [{"fold": fold, **report["run"]} for report in reports]
    if context.ranks.main:
        checkpoints.mkdir(exist_ok=True)
        atomic_write_json(checkpoints / f"fold-{fold}.json", {"metrics": metrics, "generators": facts,
                                                              "threads": torch.get_num_threads()})
        training.remove()
    return metrics, facts


def train_evaluate(context: RunContext, fold: int, splits: dict[str, Any], folder: Path,
                   checkpoint: Checkpoint | None = None) -> dict[str, Any]:
    """Prepare, fit, evaluate, write: decode and featurize, train with early stopping, score once on test,
    write the fold's files into ``folder``.

    With ``checkpoint``, training saves its state there after every epoch and continues from it
    when it holds one (a resumed run).
    """
    with main_first(context.ranks):  # rank 0 fills the cache, the others read it
        data = prepare(context, splits, folder)
    model, net = build_fold_model(context, data, folder)
    fitted, stopping, records = fit_fold(context, fold, data, model, net, checkpoint)
    net.load_state_dict(stopping.best_state)
    probabilities, results = evaluate(context, data, net, model.backbone.frame_rate)
    metrics = {
        **results["test"],
        "n_train": len(data.windows["train"].rows),
        "n_validation": len(data.windows["validation"].rows),
        "n_test": len(data.windows["test"].rows),
        "n_skipped": len(data.skipped),
        "validation": results["validation"],
        "epochs_run": len(fitted.history),
        "optimizer_steps": fitted.steps,
        "best_epoch": fitted.best_epoch,
    }
    if data.embedding_reports:
        metrics["n_synthetic_embeddings"] = sum(report["n_synthetic"] for report in data.embedding_reports)
        metrics["embedding_generators"] = data.embedding_reports
    if not context.ranks.main:
        return metrics
    predictions = prediction_rows(context, data, probabilities["test"])
    write_fold(context, folder, data, model, metrics, probabilities["test"], predictions, fitted.history, records)
    if context.hooks is not None:
        context.hooks.evaluation_end(context.folder or folder, fold, metrics, predictions)
    return metrics


def prepare(context: RunContext, splits: dict[str, Any], folder: Path) -> FoldData:
    """Decode every split into windows and featurize them, both through the cache.

    Waveform-augmented training batches are computed on the fly by :class:`~mirplug.training.Batches`
    and need every window; without waveform augmenters, clips with cached features skip their windows.
    """
    config, representation = context.config, context.representation
    options = config.data.options
    feature_settings = representation_settings(config.representation.name, config.representation.options,
                                               representation, options["clip_seconds"], options["max_windows"])
    skip_waves = not any(transform.stage == "waveform" for _, transform in context.transforms)
    windows: dict[str, CachedWindows] = {}
    with progress_bar(context.console) as progress:
        for split in SPLITS:
            windows[split] = decode_windows(splits[split], representation.sample_rate, options["clip_seconds"],
                                            options["max_windows"], split, progress, min_samples_of(representation),
                                            feature_store(feature_settings) if skip_waves else None,
                                            featurizer_while_decoding(representation, context.device),
                                            keep_windows=options["cache_windows"],
                                            max_seconds=options["max_seconds"])
    skipped = [row for split in SPLITS for row in windows[split].skipped]
    for row in skipped:
        context.console.print(f"[yellow]skipped[/] {escape(row['path'])}: {escape(row['reason'])}", soft_wrap=True,
                              highlight=False)
    check_nothing_lost(splits, windows, class_column(context.task), context.names, skipped, folder)
    kept = {split: splits[split].select(windows[split].rows) for split in SPLITS}
    ids = {split: list(kept[split]["id"]) if "id" in kept[split].column_names
           else [str(i) for i in windows[split].rows] for split in SPLITS}
    targets = {split: context.task.clip_targets(kept[split]) for split in SPLITS}
    features = {}
    with progress_bar(context.console) as progress:
        bar = progress.add_task(f"features ({config.representation.name})", total=len(SPLITS))
        for split in SPLITS:
            features[split] = featurize_rows(representation, feature_settings, windows[split], context.device)
            progress.advance(bar)
    return FoldData(windows, features, targets, ids, kept, skipped, feature_settings)


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
                    f"files (the split is drawn again without them), or remove the label, and run again")


def build_fold_model(context: RunContext, data: FoldData, folder: Path) -> tuple[MirModel, torch.nn.Module]:
    """The model, and the network to train: the model, or only its head when a frozen backbone's embeddings
    (computed once, through the cache) replace the features. Sets ``data.window_targets``; heads that are
    fitted once (centroid, probe) are fitted here, after any embedding-space generator added its rows."""
    config, task, device = context.config, context.task, context.device
    # Seeded here, not only at the start: whatever ran before (generating the dataset or fitting a
    # generator on a cold cache, nothing on a warm one) must not change the initial weights and dropout.
    seed_everything(config.seed)
    model = build_model(context.catalog, config, task, context.input_shape, context.representation.frame_rate,
                        len(context.names))
    n_frames = None
    if task.frame_level:
        with torch.no_grad():
            n_frames = int(model.eval()(data.features["train"][:1]).shape[-1])
    data.window_targets = {split: task.window_targets(data.kept[split], data.windows[split],
                                                      model.backbone.frame_rate, n_frames) for split in SPLITS}
    if model.backbone.standardize_input:
        model.standardize.fit(data.features["train"])
    model = model.to(device)
    net: torch.nn.Module = model
    if model.backbone.frozen and not context.transforms and not task.frame_level:
        with main_first(context.ranks), progress_bar(context.console) as progress:
            bar = progress.add_task(f"embeddings ({config.backbone.name}, frozen)", total=len(SPLITS))
            # cached per clip like features: another head, seed or split of the same audio skips the backbone
            settings = embedding_settings(config.backbone.name, config.backbone.options, model, data.feature_settings,
                                          head_options_of(context.catalog, config.backbone.name),
                                          config.train["precision"])
            for split in SPLITS:
                data.features[split] = embed_rows(model, settings, data.features[split], data.windows[split], device,
                                                  data.feature_settings, config.train["precision"])
                progress.advance(bar)
        net = model.head
    add_embedding_rows(context, data, model, net is model.head, folder)
    if isinstance(model.head, CentroidHead):
        train_embeddings = data.features["train"] if net is model.head else MappedRows(
            data.features["train"], lambda batch: embed(model, batch, device, precision=config.train["precision"]))
        model.head.fit(train_embeddings, data.window_targets["train"])
    if isinstance(model.head, ProbeHead):
        # scikit-learn fits the whole split at once: the probe's embeddings (clip-level vectors) are read in full
        fit_probe_in_run(model.head, net is model.head, context.task, as_tensors(data.features), data.window_targets,
                         data.windows, data.targets, context.names, config.seed, folder, data.synthetic)
    return model, net


def as_tensors(features: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Every split's rows read in full (for scikit-learn fits on clip-level embeddings, which are small)."""
    return {split: as_rows(rows)[:] for split, rows in features.items()}


def add_embedding_rows(context: RunContext, data: FoldData, model: MirModel, on_embeddings: bool,
                       folder: Path) -> None:
    """Rows of the embedding-space generators chosen (:mod:`mirplug.embedding_generation`), fitted on the
    training embeddings: kept in ``data.synthetic`` for a probe head, appended to the training split otherwise."""
    from mirplug.embedding_generation import build_embedding_generators, synthesize_embeddings

    generators = build_embedding_generators(context.catalog, context.config)
    if not generators:
        return
    rows, targets, data.embedding_reports = synthesize_embeddings(
        generators, on_embeddings, context.task, as_tensors(data.features), data.window_targets, data.windows, data.ids,
        context.names, context.config.seed, folder)
    data.synthetic = (rows, targets)
    if not isinstance(model.head, ProbeHead):  # the probe keeps them out of validation and cross-validation
        data.features["train"] = torch.cat([as_rows(data.features["train"])[:], rows])
        data.window_targets["train"] = torch.cat([data.window_targets["train"], targets])


def fit_fold(context: RunContext, fold: int, data: FoldData, model: MirModel, net: torch.nn.Module,
             checkpoint: Checkpoint | None) -> tuple[Fitted, EarlyStopping, list[dict[str, Any]]]:
    """Train ``net`` with ``train.*`` (:func:`mirplug.training.fit`); how it went, early stopping (which holds
    the best weights) and the augmentations applied. The lifecycle hooks hear of every epoch."""
    config, task, names = context.config, context.task, context.names
    trainable = [p for p in net.parameters() if p.requires_grad]
    # foreach: one kernel call per state tensor kind instead of a loop over parameters; the same weights
    # bit for bit as the default for-loop on the CPU (benchmarks/speed.py checks), a little faster.
    optimizer = (torch.optim.AdamW(trainable, lr=config.train["lr"], weight_decay=config.train["weight_decay"],
                                   foreach=True) if trainable else None)
    batches = Batches(context.representation, data.windows["train"], data.features["train"],
                      data.window_targets["train"], context.transforms, config.seed, context.device, data.ids["train"])
    n_windows = len(data.window_targets["train"])  # with any synthetic embedding rows
    batch_size = config.train["batch_size"]
    # a centroid head and a probe are fitted once (build_fold_model): no epochs
    epochs = 0 if isinstance(model.head, (CentroidHead, ProbeHead)) else config.train["epochs"]
    min_steps = int(config.train.get("min_steps", 0) or 0)
    epochs = epochs_for(epochs, min_steps, n_windows, batch_size)

    def validate() -> tuple[float, float]:
        predictions, outputs = predict_clips(net, task, data.features["validation"], data.windows["validation"],
                                             context.device, model.backbone.frame_rate,
                                             precision=config.train["precision"])
        loss = float(task.loss(outputs, data.window_targets["validation"]).item())
        return loss, float(task.metrics(data.targets["validation"], predictions, names)[task.main_metric])

    if checkpoint is not None and checkpoint.epoch() is not None:
        context.console.print(f"training continues from its checkpoint after epoch {checkpoint.epoch()}",
                              highlight=False)
    with progress_bar(context.console) as progress:
        fitted, stopping = fit(net, optimizer, task, batches, n_windows, validate,
                               LoopSettings(epochs, batch_size, config.train["patience"], min_steps, config.seed,
                                            config.train.get("mixup_alpha", 0.0), context.ranks,
                                            config.train["precision"], context.device),
                               progress, checkpoint, config.backbone.name, epoch_hook(context, fold))
    if fitted.stopped_early and fitted.steps < FEW_STEPS:
        # With few clips an epoch is one or two optimizer steps, so patience (in epochs) stops
        # training before it has started; the few-label ablations measured this.
        context.console.print(
            f"[yellow]note:[/] early stopping after {fitted.steps} optimizer steps ({len(fitted.history)} epochs of "
            f"{n_windows} windows at train.batch_size={batch_size}); with this few examples the model is likely "
            f"under-trained: try train.min_steps=300 (or train.epochs=200 train.patience=40)",
            soft_wrap=True, highlight=False)
    return fitted, stopping, batches.records


def epoch_hook(context: RunContext, fold: int) -> Any:
    """What the training loop calls after each epoch: ``mirplug_epoch_end`` (None without lifecycle hooks)."""
    hooks, folder = context.hooks, context.folder
    if hooks is None or folder is None:
        return None
    return lambda record: hooks.epoch_end(folder, fold, record, context.task.main_metric)


def evaluate(context: RunContext, data: FoldData, net: torch.nn.Module,
             frame_rate: float | None) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Clip predictions and the task's metrics on the validation and test splits."""
    probabilities, results = {}, {}
    for split in ("validation", "test"):
        probabilities[split], _ = predict_clips(net, context.task, data.features[split], data.windows[split],
                                                context.device, frame_rate,
                                                precision=context.config.train["precision"])
        results[split] = context.task.metrics(data.targets[split], probabilities[split], context.names)
    return probabilities, results


def prediction_rows(context: RunContext, data: FoldData, probabilities: Any) -> list[dict[str, Any]]:
    """One row per test clip, as ``predictions.csv`` holds them: ``id``, ``label`` and the task's columns."""
    task, names, true = context.task, context.names, data.targets["test"]
    rows = task.prediction_rows(probabilities, names)
    return [{"id": data.ids["test"][i], "label": task.format_target(true[i], names), **row}
            for i, row in enumerate(rows)]


def write_fold(context: RunContext, folder: Path, data: FoldData, model: MirModel, metrics: dict[str, Any],
               probabilities: Any, predictions: list[dict[str, Any]], history: list[dict[str, Any]],
               records: list[dict[str, Any]]) -> None:
    """The fold's files: metrics, history, test predictions, skipped clips, augmentations, model and plots."""
    task, names = context.task, context.names
    true = data.targets["test"]
    write_json(folder / "metrics.json", metrics)
    write_csv(folder / "history.csv", history)
    write_csv(folder / "predictions.csv", predictions)
    write_csv(folder / "skipped.csv", data.skipped, ["split", "id", "path", "reason"])
    if records:
        write_csv(folder / "augmentations.csv", records)
    save_model(folder, model, SavedModel(names, context.input_shape, context.representation.frame_rate))
    task.plots(folder, true, probabilities, names)
    learning_curves(folder, history, task.main_metric)


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
