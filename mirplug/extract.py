"""``mirplug extract``: fill the feature cache for a dataset and a representation, on every core.

Clips whose features are already cached are only checked; the others are cut into shards.
A thread-safe representation (every built-in one) extracts in this process, each clip decoded
and featurized by one of :func:`mirplug.cache.decode_threads` threads, as a run does; others
(Essentia keeps stateful objects) use worker processes (``spawn``, one torch thread each),
whose start-up (~2 s of imports) only pays off on large collections. Either way clips are
decoded, featurized and stored through :mod:`mirplug.cache`, exactly as a run would, so the
next ``mirplug run`` with the same settings loads everything.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

SHARD_CLIPS = 8

_WORKER_STATE: dict[tuple[str, ...], Any] = {}


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


def _prepare(overrides: tuple[str, ...]) -> Any:
    """Config, representation, cache settings, shortest clip and catalog for ``overrides`` (memoised per process)."""
    if overrides not in _WORKER_STATE:
        from mirplug.cache import min_samples_of, representation_settings
        from mirplug.catalog import load_catalog
        from mirplug.config import resolve
        from mirplug.model import build_representation

        catalog = load_catalog()
        config = resolve(catalog, list(overrides))
        representation = build_representation(catalog, config)
        data = config.data.options
        settings = representation_settings(config.representation.name, config.representation.options,
                                           representation, data["clip_seconds"], data["max_windows"])
        _WORKER_STATE[overrides] = (config, representation, settings, min_samples_of(representation), catalog)
    return _WORKER_STATE[overrides]


def extract_shard(job: tuple[tuple[str, ...], list[Any], list[str]]) -> tuple[int, float, dict[str, int],
                                                                             list[dict[str, str]]]:
    """Decode and featurize one shard of clips into the cache; returns (clips, seconds, counts, skipped)."""
    from mirplug.cache import STATS, decode_cells, feature_store, featurize_cached, featurizer_while_decoding

    overrides, cells, ids = job
    config, representation, settings, min_samples, _ = _prepare(overrides)
    before = Counter(STATS)
    windows = decode_cells(cells, ids, representation.sample_rate, config.data.options["clip_seconds"],
                           config.data.options["max_windows"], "extract", min_samples, None, feature_store(settings),
                           featurizer_while_decoding(representation, "cpu"),
                           keep_windows=config.data.options["cache_windows"],
                           max_seconds=config.data.options["max_seconds"])
    if windows.rows:
        featurize_cached(representation, settings, windows, "cpu")
    counts = Counter(STATS)
    counts.subtract(before)
    return len(windows.rows), float(sum(windows.seconds)), dict(counts), windows.skipped


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


def extract(overrides: Sequence[str], console: Console, workers: int = 0) -> ExtractResult:
    """Fill the cache for the dataset and representation that ``overrides`` choose."""
    from mirplug.cache import clip_digest, feature_store, featurizer_while_decoding
    from mirplug.errors import DataError
    from mirplug.runner import load_dataset

    # A bad override or representation setting fails here, before any work.
    config, representation, settings, min_samples, catalog = _prepare(tuple(overrides))
    cells, ids = dataset_cells(load_dataset(catalog, config))
    if not cells:
        raise DataError(f"dataset '{config.data.name}' has no clips to extract")
    result = ExtractResult()
    started = time.perf_counter()
    # Clips whose features are cached (and intact) are counted here; only the rest go to workers.
    store = feature_store(settings)
    pending: list[tuple[Any, str]] = []
    for cell, clip_id in zip(cells, ids):
        digest, _ = clip_digest(cell)
        entry = store.load(digest) if digest is not None else None
        samples = int(entry[1].get("samples", "0")) if entry is not None else 0
        if entry is not None and samples >= min_samples:
            result.clips += 1
            result.audio_seconds += samples / representation.sample_rate
            result.counts["features_loaded"] += 1
        else:
            pending.append((cell, clip_id))
    if not workers:  # automatic: threads in this process where decoding threads may featurize (as in a run)
        in_process = featurizer_while_decoding(representation, "cpu") is not None
        workers = 1 if in_process else min(2, os.cpu_count() or 1)
    # In this process a shard is decoded by several threads: larger shards keep them all busy.
    shard = SHARD_CLIPS if workers > 1 else SHARD_CLIPS * 4
    jobs = [(tuple(overrides), [c for c, _ in pending[i:i + shard]], [d for _, d in pending[i:i + shard]])
            for i in range(0, len(pending), shard)]
    workers = min(workers, max(1, len(jobs)))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[rate]}"))
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
                result.clips += clips
                result.audio_seconds += seconds
                result.counts.update(counts)
                result.skipped += skipped
                elapsed = time.perf_counter() - started
                progress.update(bar, advance=len(job[1]), rate=f"{result.clips / max(elapsed, 1e-9):.1f} clips/s")
        finally:
            if pool is not None:
                pool.shutdown()
    result.wall_seconds = time.perf_counter() - started
    return result
