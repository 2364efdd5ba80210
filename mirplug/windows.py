"""Decoding and windowing: clips become fixed-length windows, by one rule, reusing cached windows by content.

A clip is decoded to mono at the representation's sample rate and cut into windows of
:func:`window_length` samples (``data.clip_seconds``): a clip shorter than a window is zero-padded,
a longer one gives up to ``data.max_windows`` evenly spaced windows. :func:`decode_windows` is the
one decoding path of mirplug (runs, generators, ``mirplug extract``); the entries it reuses live in
:mod:`mirplug.cache`.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mirplug.audio import DEFAULT_MAX_SECONDS, BadClip, decode
from mirplug.cache import EntryStore, clip_digest, record

if TYPE_CHECKING:  # torch is imported where tensors are made
    import torch

    from mirplug.components import Representation


@dataclass
class Windows:
    """Fixed-length windows cut from the decoded clips of one split.

    ``waves[i]`` belongs to row ``rows[clip[i]]`` of the split's dataset; ``rows`` lists
    the dataset rows that decoded (skipped rows are in ``skipped``).
    """

    waves: Any  # torch.Tensor (windows, samples)
    clip: Any  # torch.Tensor (windows,) index into rows
    rows: list[int]
    skipped: list[dict[str, str]] = field(default_factory=list)
    starts: Any = None  # torch.Tensor (windows,) start of each window in its clip, seconds


@dataclass
class CachedWindows(Windows):
    """:class:`Windows` plus the content hash and decoded duration of each kept clip.

    ``features[i]`` is ``True`` when :func:`decode_cells` was given the feature store and found
    kept clip ``i``'s features there, intact (or, given a featurizer, computed and stored them
    while decoding: ``fresh[i]``); a clip without a content hash has no entry, and its computed
    features are held here as a tensor. Such a clip's windows are then not kept and its rows of
    ``waves`` read zero (only pass the store when nothing reads the waveforms again, i.e. when no
    waveform augmenter is active). Features themselves are read back a batch at a time
    (:func:`mirplug.inference.featurize_rows`), never held for a whole split.
    """

    hashes: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    features: list[torch.Tensor | bool | None] = field(default_factory=list)
    fresh: list[bool] = field(default_factory=list)


def window_length(clip_seconds: float, sample_rate: int) -> int:
    """Samples in one window of ``clip_seconds`` at ``sample_rate`` (at least one): the one rule mirplug uses."""
    return max(1, int(round(clip_seconds * sample_rate)))


def window_offsets(n_samples: int, length: int, max_windows: int) -> list[int]:
    """Start samples of a clip's windows: one window, or up to ``max_windows`` evenly spaced."""
    if n_samples <= length:
        return [0]
    count = min(max_windows, int(np.ceil(n_samples / length)))
    return [int(s) for s in np.linspace(0, n_samples - length, count).round().astype(int)]


def window_starts(samples: np.ndarray, length: int, max_windows: int) -> list[tuple[int, np.ndarray]]:
    """(start sample, window) pairs; a clip shorter than a window is zero-padded."""
    if len(samples) <= length:
        return [(0, np.pad(samples, (0, length - len(samples))))]
    return [(s, samples[s:s + length]) for s in window_offsets(len(samples), length, max_windows)]


def single_clip_windows(samples: np.ndarray, sample_rate: int, clip_seconds: float, max_windows: int) -> Windows:
    """The windows of one decoded clip (for prediction on a file)."""
    import torch

    pairs = window_starts(samples, window_length(clip_seconds, sample_rate), max_windows)
    return Windows(torch.from_numpy(np.stack([w for _, w in pairs])), torch.zeros(len(pairs), dtype=torch.long), [0],
                   [], torch.as_tensor([s / sample_rate for s, _ in pairs], dtype=torch.float32))


def min_samples_of(representation: Representation) -> int:
    """The shortest clip the representation can analyse (its ``frame_samples``, else one sample)."""
    return max(1, int(representation.frame_samples or 1))


def unreadable_reason(cell: Any) -> str:
    """Why a dataset cell's file cannot be read: a dangling link, a link loop, a folder, a missing file, ..."""
    path = cell.get("path") if isinstance(cell, dict) else cell
    if not isinstance(path, str) or not path:
        return "no audio: the row has neither bytes nor a path"
    if os.path.islink(path):
        target = os.readlink(path)
        try:
            os.stat(path)
        except FileNotFoundError:
            return f"dangling symbolic link: its target {target} does not exist"
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return f"symbolic link loop: following {target} never reaches a file"
            return f"unreadable symbolic link to {target}: {exc.strerror}"
        if os.path.isdir(path):
            real, above = os.path.realpath(path), os.path.realpath(os.path.dirname(path))
            if above == real or above.startswith(real.rstrip(os.sep) + os.sep):
                return f"symbolic link loop: it leads to {real}, a folder above it; not followed"
            return f"a symbolic link to the folder {target}, not an audio file"
    if os.path.isdir(path):
        return "a folder, not an audio file"
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    return "unreadable"


def decode_threads() -> int:
    """Threads that decode clips: ``$MIRPLUG_DECODE_THREADS``, else one per available core (at most 8)."""
    configured = os.environ.get("MIRPLUG_DECODE_THREADS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(8, cores))


def window_store(sample_rate: int, clip_seconds: float, max_windows: int) -> EntryStore:
    """The cache's store of decoded windows for these settings."""
    return EntryStore("windows", {"sample_rate": sample_rate, "window_samples": window_length(clip_seconds, sample_rate),
                                  "max_windows": max_windows})


@dataclass
class _Clip:
    """One clip as a decoding thread leaves it: its windows, or its features with zero windows, or a failure."""

    digest: str | None
    waves: Any  # (windows, samples); zeros when ``features`` are at hand
    n_samples: int
    features: Any = None
    fresh: bool = False  # features computed here rather than read from the cache
    failure: str | None = None


class _ClipDecoder:
    """Turns one dataset cell into a :class:`_Clip`; called from several threads at once."""

    def __init__(self, sample_rate: int, length: int, max_windows: int, min_samples: int, store: EntryStore | None,
                 features: EntryStore | None, featurizer: Any, max_seconds: float | None) -> None:
        self.sample_rate, self.length, self.max_windows, self.min_samples = sample_rate, length, max_windows, min_samples
        self.store, self.features, self.featurizer, self.max_seconds = store, features, featurizer, max_seconds

    def zeros(self, n_windows: int) -> Any:
        """Placeholder windows of a clip whose features are at hand (no memory: one row, expanded)."""
        import torch

        return torch.zeros(1, self.length).expand(n_windows, self.length)

    def __call__(self, cell: Any) -> _Clip:
        digest, data = clip_digest(cell)
        cached = self.features.load(digest) if self.features is not None and digest is not None else None
        if cached is not None and "samples" not in cached[1]:
            cached = None  # without the clip's length the short-clip check cannot be made
        if cached is not None:
            record("windows_not_needed")
            # checked against its checksum; its rows are read again a batch at a time (mirplug.rows)
            return _Clip(digest, self.zeros(len(cached[0])), int(cached[1].get("samples", "0")), True)
        entry = self.store.load(digest) if self.store is not None and digest is not None else None
        if entry is not None:
            record("windows_loaded")
            return _Clip(digest, entry[0], int(entry[1]["samples"]))
        if digest is None:
            return _Clip(None, None, 0, failure=unreadable_reason(cell))
        return self.decode(cell, data, digest)

    def decode(self, cell: Any, data: bytes | None, digest: str | None) -> _Clip:
        """Decode and cut a clip whose windows are not cached; store them (and its features, given a featurizer)."""
        import torch

        try:
            samples = decode(data if data is not None else cell, self.sample_rate, self.max_seconds).samples
        except BadClip as exc:
            return _Clip(digest, None, 0, failure=str(exc))
        waves = torch.from_numpy(np.stack([w for _, w in window_starts(samples, self.length, self.max_windows)]))
        record("windows_decoded")
        metadata = {"samples": str(len(samples))}
        if self.store is not None and digest is not None:
            self.store.save(digest, waves, metadata)
        if self.featurizer is not None and self.features is not None and len(samples) >= self.min_samples:
            computed = self.featurizer(waves)
            if digest is not None:
                self.features.save(digest, computed, metadata)
            # stored: read back a batch at a time (without a content hash there is no entry: kept here)
            return _Clip(digest, self.zeros(len(waves)), len(samples), True if digest is not None else computed,
                         fresh=True)
        return _Clip(digest, waves, len(samples))


class _Collected:
    """The kept clips of one split, in dataset order, and the skipped ones with their reason."""

    def __init__(self, split: str, sample_rate: int, length: int, max_windows: int, min_samples: int,
                 max_seconds: float | None) -> None:
        self.split, self.sample_rate, self.length = split, sample_rate, length
        self.max_windows, self.min_samples, self.max_seconds = max_windows, min_samples, max_seconds
        self.parts: list[Any] = []
        self.owners: list[int] = []
        self.starts: list[float] = []
        self.rows: list[int] = []
        self.hashes: list[str] = []
        self.seconds: list[float] = []
        self.preloaded: list[Any] = []
        self.fresh: list[bool] = []
        self.skipped: list[dict[str, str]] = []

    def add(self, index: int, clip_id: str, where: str, clip: _Clip) -> None:
        """Keep dataset row ``index`` or record why it is skipped."""
        too_long = self.max_seconds is not None and clip.n_samples > self.max_seconds * self.sample_rate + 1
        if clip.failure is None and too_long:
            clip.failure = (f"longer than data.max_seconds={self.max_seconds:g}: "
                            f"{clip.n_samples / self.sample_rate:.1f} s; raise data.max_seconds to use it")
        if clip.failure is None and clip.n_samples < self.min_samples:
            clip.failure = (f"shorter than one analysis frame: {clip.n_samples} samples < {self.min_samples} "
                            f"({1000.0 * self.min_samples / self.sample_rate:.1f} ms at {self.sample_rate} Hz)")
        if clip.failure is not None:
            self.skipped.append({"split": self.split, "id": clip_id, "path": where, "reason": clip.failure})
            return
        position = len(self.rows)
        self.rows.append(index)
        self.hashes.append(clip.digest or "")
        self.seconds.append(clip.n_samples / self.sample_rate)
        self.parts.append(clip.waves)
        self.preloaded.append(clip.features)
        self.fresh.append(clip.fresh)
        self.owners += [position] * len(clip.waves)
        self.starts += [offset / self.sample_rate
                        for offset in window_offsets(clip.n_samples, self.length, self.max_windows)]

    def windows(self) -> CachedWindows:
        """Everything kept, as one :class:`CachedWindows`."""
        import torch

        if self.parts and all(tensor is not None for tensor in self.preloaded):
            stacked = torch.zeros(1, self.length).expand(len(self.owners), self.length)  # every feature is cached
        else:
            stacked = torch.cat(self.parts) if self.parts else torch.zeros((0, self.length))
        return CachedWindows(stacked, torch.as_tensor(self.owners, dtype=torch.long), self.rows, self.skipped,
                             torch.as_tensor(self.starts, dtype=torch.float32), self.hashes, self.seconds,
                             self.preloaded, self.fresh)


def _where(cell: Any, clip_id: str) -> str:
    """How a skipped clip is named: its path when the cell has one, else its id."""
    return str((cell or {}).get("path") or clip_id) if isinstance(cell, dict) else str(clip_id)


def decode_cells(cells: Sequence[Any], ids: Sequence[str], sample_rate: int, clip_seconds: float, max_windows: int,
                 split: str, min_samples: int = 1, progress: Any = None,
                 features: EntryStore | None = None, featurizer: Any = None, *,
                 keep_windows: bool = True, max_seconds: float | None = DEFAULT_MAX_SECONDS) -> CachedWindows:
    """Decode clips into windows, reusing cached windows by content.

    A clip with fewer than ``min_samples`` decoded samples (shorter than one analysis frame of
    the representation) is skipped with that reason, like an undecodable one. With the
    ``features`` store (see :class:`CachedWindows`), clips whose features are cached skip their
    windows altogether: a warm run reads only the (much smaller) features. With a
    ``featurizer`` too (windows -> features on the CPU, safe to call from several threads),
    a clip whose features are missing is featurized in the thread that decoded it and stored:
    both cores stay busy (torch runs one thread per decoding thread meanwhile) and its windows
    are not kept in memory. ``keep_windows=False`` (``data.cache_windows=false``) neither reads
    nor writes the store of decoded windows: at 16 kHz they take ~230 MB per hour of audio, which
    a large collection may not spare; another representation then decodes the audio again.
    A clip longer than ``max_seconds`` (``data.max_seconds``; ``None``: no limit) is skipped, whether its
    header says so (before decoding, see :func:`mirplug.audio.decode`) or its cached entry does.
    """
    import torch

    length = window_length(clip_seconds, sample_rate)
    store = window_store(sample_rate, clip_seconds, max_windows) if keep_windows else None
    decoder = _ClipDecoder(sample_rate, length, max_windows, min_samples, store, features, featurizer, max_seconds)
    collected = _Collected(split, sample_rate, length, max_windows, min_samples, max_seconds)
    task_id = progress.add_task(f"decoding {split}", total=len(cells)) if progress is not None else None
    # libsndfile, soxr, hashing, file I/O and torch release the GIL: threads decode clips in parallel.
    threads = decode_threads()
    torch_threads = torch.get_num_threads()
    featurizing = featurizer is not None and features is not None
    per_thread = max(1, torch_threads // threads) if featurizing else torch_threads
    try:
        # torch's thread count is set in each worker as well (OpenMP's setting is per thread), so
        # decoding threads that featurize share the cores instead of each taking all of them.
        with ThreadPoolExecutor(threads, initializer=torch.set_num_threads, initargs=(per_thread,)) as pool:
            for index, clip in enumerate(pool.map(decoder, cells)):
                collected.add(index, ids[index], _where(cells[index], ids[index]), clip)
                if task_id is not None:
                    progress.advance(task_id)
    finally:
        torch.set_num_threads(torch_threads)
    return collected.windows()


def decode_windows(dataset: Any, sample_rate: int, clip_seconds: float, max_windows: int, split: str,
                   progress: Any = None, min_samples: int = 1, features: EntryStore | None = None,
                   featurizer: Any = None, *, keep_windows: bool = True,
                   max_seconds: float | None = DEFAULT_MAX_SECONDS) -> CachedWindows:
    """:func:`decode_cells` over a ``datasets.Dataset`` with an ``audio`` column (and, if it has one, ``id``).

    Clips that fail to decode are reported in ``skipped``.
    """
    cells = list(dataset.with_format(None)["audio"]) if len(dataset) else []
    ids = dataset["id"] if "id" in dataset.column_names else [str(i) for i in range(len(dataset))]
    return decode_cells(cells, ids, sample_rate, clip_seconds, max_windows, split, min_samples, progress, features,
                        featurizer, keep_windows=keep_windows, max_seconds=max_seconds)
