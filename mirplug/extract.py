"""``mirplug extract``: fill the feature cache for a dataset and a representation, on every core or on Ray.

Clips whose features are already cached are only checked; the others are cut into shards.
A thread-safe representation (every built-in one) extracts in this process, each clip decoded
and featurized by one of :func:`mirplug.windows.decode_threads` threads, as a run does; others
(Essentia keeps stateful objects) use worker processes (``spawn``, one torch thread each),
whose start-up (~2 s of imports) only pays off on large collections. Either way clips are
decoded, featurized and stored through :mod:`mirplug.cache`, exactly as a run would, so the
next ``mirplug run`` with the same settings loads everything. With a frozen pretrained backbone
(one that needs no statistics of a training split) its clip embeddings are cached as well.

One :class:`ClipExtractor` per process (or Ray actor) holds the representation and the backbone;
``engine=ray`` sends the shards to a pool of such actors through Ray Data
(:mod:`mirplug.engines.ray_engine`) instead of this process's threads or worker processes.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
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
    os.environ["MIRPLUG_DECODE_THREADS"] = "1"  # likewise for decoding (mirplug.windows.decode_threads)


@dataclass
class FrozenEmbedder:
    """A frozen backbone whose clip embeddings go into the cache, keyed as a run keys them."""

    model: Any
    settings: dict[str, Any]
    precision: str = "fp32"  # train.precision: a run in bf16 finds the embeddings extracted in bf16


def frozen_embedder(catalog: Any, config: Any, representation: Any, feature_settings: dict[str, Any],
                    device: Any = "cpu") -> FrozenEmbedder | None:
    """The chosen backbone when a run would cache its embeddings and the cache key needs no training data.

    That is a frozen backbone that does not standardise its input with statistics of the training
    split (pretrained ones such as musicnn or hf), for a clip-level task. Others give ``None``:
    their runs compute from the cached features.
    """
    import torch
    from torch import nn

    from mirplug.build import build_task, head_options_of, seed_everything
    from mirplug.cache import embedding_settings
    from mirplug.inference import feature_shape
    from mirplug.model import MirModel, Standardize
    from mirplug.windows import window_length

    if build_task(catalog, config).frame_level:
        return None
    input_shape = feature_shape(representation, window_length(config.data.options["clip_seconds"],
                                                              representation.sample_rate))
    seed_everything(config.seed)  # as the runner does before building the model (weights made at random)
    backbone = catalog.get("backbone", config.backbone.name).build(
        config.backbone.options, input_shape=tuple(input_shape), frame_rate=representation.frame_rate)
    if not backbone.frozen or backbone.standardize_input:
        return None
    model = MirModel(Standardize(input_shape), backbone, nn.Identity()).to(torch.device(device))
    return FrozenEmbedder(model, embedding_settings(config.backbone.name, config.backbone.options, model,
                                                    feature_settings, head_options_of(catalog, config.backbone.name),
                                                    config.train["precision"]),
                          config.train["precision"])


class ClipExtractor:
    """Decode, featurize and (for a frozen pretrained backbone) embed clips into the cache.

    Built once per process, Ray actor or worker (the representation and the backbone load once),
    then called with shard after shard: ``extractor(cells, ids)``. The same object does the work in
    this process, in the worker processes of ``--workers`` and in the actors of ``engine=ray``, so the
    cache entries are the same wherever they were computed.
    """

    def __init__(self, overrides: Sequence[str], device: Any = "cpu") -> None:
        from mirplug.build import build_representation, build_task, fit_backbone_to_features
        from mirplug.cache import representation_settings
        from mirplug.catalog import load_catalog
        from mirplug.config import resolve
        from mirplug.windows import min_samples_of

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

    def embedding_store(self) -> Any:
        """The cache store of the frozen backbone's embeddings (None without one)."""
        from mirplug.cache import EntryStore

        if self.embedder is None:
            return None
        return EntryStore(f"embeddings-{self.embedder.settings['embeddings']}", self.embedder.settings)

    def __call__(self, cells: list[Any], ids: list[str]) -> tuple[int, float, dict[str, int], list[dict[str, str]]]:
        """Decode and featurize (and embed) one shard into the cache; returns (clips, seconds, counts, skipped)."""
        from mirplug.cache import STATS, feature_store
        from mirplug.inference import embed_rows, featurize_rows, featurizer_while_decoding
        from mirplug.windows import decode_cells

        data = self.config.data.options
        before = Counter(STATS)
        windows = decode_cells(cells, ids, self.representation.sample_rate, data["clip_seconds"], data["max_windows"],
                               "extract", self.min_samples, None, feature_store(self.settings),
                               featurizer_while_decoding(self.representation, self.device),
                               keep_windows=data["cache_windows"], max_seconds=data["max_seconds"])
        if windows.rows:
            features = featurize_rows(self.representation, self.settings, windows, self.device)
            if self.embedder is not None:
                embed_rows(self.embedder.model, self.embedder.settings, features, windows, self.device,
                           precision=self.embedder.precision).close()
            features.close()
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
    """Decode and featurize (and embed) one shard of clips into the cache; returns (clips, seconds, counts, skipped)."""
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


def cached_or_pending(cells: list[Any], ids: list[str], store: Any, min_samples: int, sample_rate: int,
                      result: ExtractResult, embeddings: Any = None) -> list[tuple[Any, str]]:
    """The clips whose features (and, with an ``embeddings`` store, embeddings) are not cached yet; those
    that are (and intact) are counted in ``result``."""
    from mirplug.cache import clip_digest

    pending: list[tuple[Any, str]] = []
    for cell, clip_id in zip(cells, ids):
        digest, _ = clip_digest(cell)
        entry = store.load(digest) if digest is not None else None
        samples = int(entry[1].get("samples", "0")) if entry is not None else 0
        embedded = embeddings is None or (digest is not None and embeddings.load(digest) is not None)
        if entry is not None and samples >= min_samples and embedded:
            result.clips += 1
            result.audio_seconds += samples / sample_rate
            result.counts["features_loaded"] += 1
            if embeddings is not None:
                result.counts["embeddings_loaded"] += 1
        else:
            pending.append((cell, clip_id))
    return pending


def extract(overrides: Sequence[str], console: Console, workers: int = 0,
            engine: EngineSettings | None = None) -> ExtractResult:
    """Fill the cache for the dataset and representation that ``overrides`` choose.

    With a frozen pretrained backbone among them (``backbone=musicnn``, ``backbone=hf ...``) its
    embeddings are cached too. ``engine`` with ``engine=ray`` does the work in a Ray Data pipeline
    (:mod:`mirplug.engines.ray_engine`); the cache ends the same.
    """
    from mirplug.build import load_dataset
    from mirplug.cache import feature_store
    from mirplug.errors import DataError

    # A bad override or representation setting fails here, before any work.
    extractor = _extractor(tuple(overrides))
    config, representation = extractor.config, extractor.representation
    cells, ids = dataset_cells(load_dataset(extractor.catalog, config))
    if not cells:
        raise DataError(f"dataset '{config.data.name}' has no clips to extract")
    result = ExtractResult()
    started = time.perf_counter()
    pending = cached_or_pending(cells, ids, feature_store(extractor.settings), extractor.min_samples,
                                representation.sample_rate, result, extractor.embedding_store())
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[rate]}"))
    with Progress(*columns, console=console, transient=True) as progress:
        where = " (ray)" if engine is not None and engine.ray else ""
        bar = progress.add_task(f"extracting {config.representation.name}{where}", total=len(cells), rate="",
                                completed=len(cells) - len(pending))
        for n_clips, (clips, seconds, counts, skipped) in _shard_results(tuple(overrides), pending, workers, engine):
            result.clips += clips
            result.audio_seconds += seconds
            result.counts.update(counts)
            result.skipped += skipped
            elapsed = time.perf_counter() - started
            progress.update(bar, advance=n_clips, rate=f"{result.clips / max(elapsed, 1e-9):.1f} clips/s")
    result.wall_seconds = time.perf_counter() - started
    return result


def _shard_results(overrides: tuple[str, ...], pending: list[tuple[Any, str]], workers: int,
                   engine: EngineSettings | None) -> Iterator[tuple[int, Any]]:
    """(clips in the shard, what :func:`extract_shard` returned) for every shard of ``pending``, as they finish:
    on Ray (``engine=ray``), in worker processes, or in this process."""
    from mirplug.inference import featurizer_while_decoding

    if engine is not None and engine.ray:
        from mirplug.engines.ray_engine import map_shards

        shards = [([c for c, _ in pending[i:i + SHARD_CLIPS]], [d for _, d in pending[i:i + SHARD_CLIPS]])
                  for i in range(0, len(pending), SHARD_CLIPS)]
        # each actor builds one ClipExtractor (on its GPU when it has one) and calls it per shard
        yield from map_shards(ClipExtractor, (overrides,), shards, engine)
        return
    if not workers:  # automatic: threads in this process where decoding threads may featurize (as in a run)
        in_process = featurizer_while_decoding(_extractor(overrides).representation, "cpu") is not None
        workers = 1 if in_process else min(2, os.cpu_count() or 1)
    # In this process a shard is decoded by several threads: larger shards keep them all busy.
    shard = SHARD_CLIPS if workers > 1 else SHARD_CLIPS * 4
    jobs = [(overrides, [c for c, _ in pending[i:i + shard]], [d for _, d in pending[i:i + shard]])
            for i in range(0, len(pending), shard)]
    workers = min(workers, max(1, len(jobs)))
    if workers == 1:
        for job in jobs:
            yield len(job[1]), extract_shard(job)
        return
    from mirplug.workers import worker_pool

    pool = worker_pool(workers, initializer=_worker_init)  # spawned; they die with this process
    try:
        for job, output in zip(jobs, pool.map(extract_shard, jobs)):
            yield len(job[1]), output
    finally:
        pool.shutdown()
