"""``mirplug extract``: fill the feature cache for a dataset and a representation, on every core or on Ray.

Clips whose features are already cached are only checked; the others are cut into shards.
A thread-safe representation (every built-in one) extracts in this process, each clip decoded
and featurized by one of :func:`mirplug.cache.decode_threads` threads, as a run does; others
(Essentia keeps stateful objects) use worker processes (``spawn``, one torch thread each),
whose start-up (~2 s of imports) only pays off on large collections. Either way clips are
decoded, featurized and stored through :mod:`mirplug.cache`, exactly as a run would, so the
next ``mirplug run`` with the same settings loads everything. With a frozen pretrained backbone
(one that needs no statistics of a training split) its clip embeddings are cached as well.

One :class:`ClipExtractor` per process (or Ray actor) holds the representation and the backbone;
``engine=ray`` sends the shards to a pool of such actors through Ray Data
(:mod:`mirplug.engines.ray_engine`) instead of this process's threads or worker processes.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from mirplug.engines import EngineSettings

SHARD_CLIPS = 8

_WORKER_STATE: dict[tuple[str, ...], ClipExtractor] = {}


@dataclass
class ExtractResult:
    """What one extraction did."""

    clips: int = 0
    audio_seconds: float = 0.0
    wall_seconds: float = 0.0
    counts: Counter[str] = field(default_factory=Counter)
    skipped: list[dict[str, str]] = field(default_factory=list)

    @property
    def clips_per_second(self) -> float:
        """Clips handled per wall-clock second."""
        return self.clips / max(self.wall_seconds, 1e-9)

    @property
    def realtime_factor(self) -> float:
        """Seconds of audio handled per wall-clock second."""
        return self.audio_seconds / max(self.wall_seconds, 1e-9)


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)  # one core per worker; the workers share the machine's cores
    os.environ["MIRPLUG_DECODE_THREADS"] = "1"  # likewise for decoding (mirplug.cache.decode_threads)


@dataclass
class FrozenEmbedder:
    """A frozen backbone whose clip embeddings go into the cache, keyed as a run keys them."""

    model: Any
    settings: dict[str, Any]


def frozen_embedder(catalog: Any, config: Any, representation: Any, feature_settings: dict[str, Any],
                    device: Any = "cpu") -> FrozenEmbedder | None:
    """The chosen backbone when a run would cache its embeddings and the cache key needs no training data.

    That is a frozen backbone that does not standardise its input with statistics of the training
    split (pretrained ones such as musicnn or hf), for a clip-level task. Others give ``None``:
    their runs compute from the cached features.
    """
    import torch
    from torch import nn

    from mirplug.cache import embedding_settings
    from mirplug.model import MirModel, Standardize, feature_shape
    from mirplug.runner import build_task, seed_everything

    task = build_task(catalog, config)
    if task.frame_level:
        return None
    window_samples = max(1, int(round(config.data.options["clip_seconds"] * representation.sample_rate)))
    input_shape = feature_shape(representation, window_samples)
    seed_everything(config.seed)  # as the runner does before building the model (weights made at random)
    backbone = catalog.get("backbone", config.backbone.name).build(
        config.backbone.options, input_shape=tuple(input_shape), frame_rate=representation.frame_rate)
    if not getattr(backbone, "frozen", False) or getattr(backbone, "standardize_input", True):
        return None
    model = MirModel(Standardize(input_shape), backbone, nn.Identity()).to(torch.device(device))
    return FrozenEmbedder(model, embedding_settings(config.backbone.name, config.backbone.options, model,
                                                    feature_settings))


class ClipExtractor:
    """Decode, featurize and (for a frozen pretrained backbone) embed clips into the cache.

    Built once per process, Ray actor or worker (the representation and the backbone load once),
    then called with shard after shard: ``extractor(cells, ids)``. The same object does the work in
    this process, in the worker processes of ``--workers`` and in the actors of ``engine=ray``, so the
    cache entries are the same wherever they were computed.
    """

    def __init__(self, overrides: Sequence[str], device: Any = "cpu") -> None:
        from mirplug.cache import min_samples_of, representation_settings
        from mirplug.catalog import load_catalog
        from mirplug.config import resolve
        from mirplug.model import build_representation, fit_backbone_to_features
        from mirplug.runner import build_task

        self.overrides = tuple(overrides)
        self.device = device
        self.catalog = load_catalog()
        config = resolve(self.catalog, list(overrides))
        representation = build_representation(self.catalog, config)
        config, _ = fit_backbone_to_features(self.catalog, config, representation, build_task(self.catalog, config))
        self.config, self.representation = config, representation
        data = config.data.options
        self.settings = representation_settings(config.representation.name, config.representation.options,
                                                representation, data["clip_seconds"], data["max_windows"])
        self.min_samples = min_samples_of(representation)
        self.embedder = frozen_embedder(self.catalog, config, representation, self.settings, device)

    def cached_seconds(self, cell: Any) -> float | None:
        """Seconds of audio of ``cell`` when everything this extractor would compute is cached, else None."""
        from mirplug.cache import EntryStore, clip_digest, feature_store

        digest, _ = clip_digest(cell)
        if digest is None:
            return None
        entry = feature_store(self.settings).load(digest)
        samples = int(entry[1].get("samples", "0")) if entry is not None else 0
        if entry is None or samples < self.min_samples:
            return None
        if self.embedder is not None:
            embeddings = EntryStore(f"embeddings-{self.embedder.settings['embeddings']}", self.embedder.settings)
            if embeddings.load(digest) is None:
                return None
        return samples / self.representation.sample_rate

    def __call__(self, cells: list[Any], ids: list[str]) -> tuple[int, float, dict[str, int], list[dict[str, str]]]:
        """Decode and featurize (and embed) one shard into the cache; returns (clips, seconds, counts, skipped)."""
        from mirplug.cache import (STATS, decode_cells, embed_cached, feature_store, featurize_cached,
                                   featurizer_while_decoding)

        data = self.config.data.options
        before = Counter(STATS)
        windows = decode_cells(cells, ids, self.representation.sample_rate, data["clip_seconds"], data["max_windows"],
                               "extract", self.min_samples, None, feature_store(self.settings),
                               featurizer_while_decoding(self.representation, self.device),
                               keep_windows=data["cache_windows"], max_seconds=data["max_seconds"])
        if windows.rows:
            features = featurize_cached(self.representation, self.settings, windows, self.device)
            if self.embedder is not None:
                embed_cached(self.embedder.model, self.embedder.settings, features, windows, self.device)
        counts = Counter(STATS)
        counts.subtract(before)
        return len(windows.rows), float(sum(windows.seconds)), {k: v for k, v in counts.items() if v}, windows.skipped


def _extractor(overrides: tuple[str, ...]) -> ClipExtractor:
    """The :class:`ClipExtractor` of ``overrides`` (memoised per process)."""
    if overrides not in _WORKER_STATE:
        _WORKER_STATE[overrides] = ClipExtractor(overrides)
    return _WORKER_STATE[overrides]


def extract_shard(job: tuple[tuple[str, ...], list[Any], list[str]]) -> tuple[int, float, dict[str, int],
                                                                             list[dict[str, str]]]:
    """Decode and featurize one shard of clips into the cache; returns (clips, seconds, counts, skipped)."""
    overrides, cells, ids = job
    return _extractor(overrides)(cells, ids)


def dataset_cells(dataset: Any) -> tuple[list[Any], list[str]]:
    """Audio cells and ids of every row of a ``Dataset`` or of every split of a ``DatasetDict``."""
    import datasets

    parts = [dataset[name] for name in dataset] if isinstance(dataset, datasets.DatasetDict) else [dataset]
    cells: list[Any] = []
    ids: list[str] = []
    for part in parts:
        if not len(part):
            continue
        cells += list(part.with_format(None)["audio"])
        ids += list(part["id"]) if "id" in part.column_names else [str(i) for i in range(len(part))]
    return cells, ids


def extract(overrides: Sequence[str], console: Console, workers: int = 0,
            engine: EngineSettings | None = None) -> ExtractResult:
    """Fill the cache for the dataset and representation that ``overrides`` choose.

    With a frozen pretrained backbone among them (``backbone=musicnn``, ``backbone=hf ...``) its
    embeddings are cached too. ``engine`` with ``engine=ray`` does the work in a Ray Data pipeline
    (:mod:`mirplug.engines.ray_engine`); the result is the same cache.
    """
    from mirplug.cache import featurizer_while_decoding
    from mirplug.errors import DataError
    from mirplug.runner import load_dataset

    # A bad override or representation setting fails here, before any work.
    extractor = _extractor(tuple(overrides))
    config, representation = extractor.config, extractor.representation
    if engine is not None and engine.ray:
        from mirplug.engines.ray_engine import check_ray

        check_ray()  # one line when Ray is missing, before the dataset is read
    cells, ids = dataset_cells(load_dataset(extractor.catalog, config))
    if not cells:
        raise DataError(f"dataset '{config.data.name}' has no clips to extract")
    result = ExtractResult()
    started = time.perf_counter()
    # Clips whose features (and embeddings) are cached and intact are counted here; only the rest are sent out.
    pending: list[tuple[Any, str]] = []
    for cell, clip_id in zip(cells, ids):
        seconds = extractor.cached_seconds(cell)
        if seconds is not None:
            result.clips += 1
            result.audio_seconds += seconds
            result.counts["features_loaded"] += 1
            if extractor.embedder is not None:
                result.counts["embeddings_loaded"] += 1
        else:
            pending.append((cell, clip_id))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[rate]}"))
    if engine is not None and engine.ray:
        from mirplug.engines.ray_engine import extract_with_ray

        with Progress(*columns, console=console, transient=True) as progress:
            bar = progress.add_task(f"extracting {config.representation.name} (ray)", total=len(cells), rate="",
                                    completed=len(cells) - len(pending))
            shards = [([c for c, _ in pending[i:i + SHARD_CLIPS]], [d for _, d in pending[i:i + SHARD_CLIPS]])
                      for i in range(0, len(pending), SHARD_CLIPS)]
            for n_clips, (clips, seconds, counts, skipped) in extract_with_ray(tuple(overrides), shards, engine):
                _add(result, clips, seconds, counts, skipped)
                elapsed = time.perf_counter() - started
                progress.update(bar, advance=n_clips, rate=f"{result.clips / max(elapsed, 1e-9):.1f} clips/s")
        result.wall_seconds = time.perf_counter() - started
        return result
    if not workers:  # automatic: threads in this process where decoding threads may featurize (as in a run)
        in_process = featurizer_while_decoding(representation, "cpu") is not None
        workers = 1 if in_process else min(2, os.cpu_count() or 1)
    # In this process a shard is decoded by several threads: larger shards keep them all busy.
    shard = SHARD_CLIPS if workers > 1 else SHARD_CLIPS * 4
    jobs = [(tuple(overrides), [c for c, _ in pending[i:i + shard]], [d for _, d in pending[i:i + shard]])
            for i in range(0, len(pending), shard)]
    workers = min(workers, max(1, len(jobs)))
    with Progress(*columns, console=console, transient=True) as progress:
        bar = progress.add_task(f"extracting {config.representation.name}", total=len(cells), rate="",
                                completed=len(cells) - len(pending))
        if workers == 1:
            outputs: Any = map(extract_shard, jobs)
            pool = None
        else:
            import multiprocessing

            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_worker_init)
            outputs = pool.map(extract_shard, jobs)
        try:
            for job, (clips, seconds, counts, skipped) in zip(jobs, outputs):
                _add(result, clips, seconds, counts, skipped)
                elapsed = time.perf_counter() - started
                progress.update(bar, advance=len(job[1]), rate=f"{result.clips / max(elapsed, 1e-9):.1f} clips/s")
        finally:
            if pool is not None:
                pool.shutdown()
    result.wall_seconds = time.perf_counter() - started
    return result


def _add(result: ExtractResult, clips: int, seconds: float, counts: dict[str, int],
         skipped: list[dict[str, str]]) -> None:
    result.clips += clips
    result.audio_seconds += seconds
    result.counts.update(counts)
    result.skipped += skipped
