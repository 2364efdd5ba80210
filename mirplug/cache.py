"""The feature cache: decoded windows and features, computed once per audio content and settings.

Layout under ``mirplug.paths.cache_dir() / "features"``::

    windows-<key>/settings.json          decoded windows: sample rate, window length, max windows
    windows-<key>/<content>.safetensors  one file per clip, named by the hash of its file bytes
    <representation>-<key>/settings.json the representation, its class and options, the window settings
    <representation>-<key>/<content>.safetensors

Entries are per clip and keyed by the clip's *content* (a 128-bit XXH3 hash of the encoded
audio), so they are shared by every run, backbone, task and split that sees the same audio with
the same settings; any setting change gives another ``<key>`` folder and so a recomputation. Each
entry is a safetensors file holding one tensor and, in its metadata, the XXH3-128 of the
tensor's bytes: a truncated or altered entry fails to load or to match and is recomputed.
XXH3 (the ``xxhash`` package) is a non-cryptographic hash about 10x faster than SHA-256 and
17x faster than BLAKE2 here: the cache guards against accidents, not adversaries, and hashing
was a large part of filling it (``benchmarks/representations.py``).
Any number of processes may share the cache (:mod:`mirplug.publish`): an entry is written to a
private temporary file and published with a hard link, so the first publisher wins, a reader
never sees a torn entry and a kill leaves at most a temporary file. ``settings.json`` is
informational (``mirplug cache info``): a damaged one is written again by the next writer and
shown as damaged meanwhile. ``STATS`` counts what was loaded and computed (tests and ``mirplug extract`` read it).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mirplug import __version__
from mirplug.audio import DEFAULT_MAX_SECONDS, BadClip, decode
from mirplug.data import Windows, window_offsets, window_starts
from mirplug.paths import cache_dir

if TYPE_CHECKING:  # torch is imported where tensors are made, so `mirplug cache info` stays quick
    import torch

    from mirplug.components import Representation

# 3: decoding refuses implausible sample rates, clips longer than data.max_seconds and truncated files, so
# windows decoded before from such files are not reused; 2: XXH3-128 content keys and entry checksums
# (1: BLAKE2b keys, SHA-256 sums)
FORMAT_VERSION = "3"
HASH = "xxh3_128"
STATS: Counter[str] = Counter()
_STATS_LOCK = threading.Lock()


def record(key: str, n: int = 1) -> None:
    """Add ``n`` to ``STATS[key]`` (thread-safe: clips are decoded in worker threads)."""
    with _STATS_LOCK:
        STATS[key] += n


def features_root() -> Path:
    """The folder of the feature cache."""
    return cache_dir() / "features"


def content_hash(data: bytes) -> str:
    """A 32-hex-digit XXH3-128 hash of the encoded audio."""
    import xxhash

    return xxhash.xxh3_128_hexdigest(data)


def settings_key(settings: Mapping[str, Any]) -> str:
    """A short stable hash of JSON-serialisable settings."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class EntryStore:
    """One folder of per-clip safetensors entries that share the same ``settings``."""

    def __init__(self, prefix: str, settings: Mapping[str, Any]) -> None:
        self.settings = {"format": FORMAT_VERSION, **settings}
        safe = str(prefix).replace("/", "_").replace(":", "_")  # plugin:name and hub ids make folder names
        self.folder = features_root() / f"{safe}-{settings_key(self.settings)}"
        self._settings_checked = False

    def path(self, digest: str) -> Path:
        """Where the entry of the clip with content hash ``digest`` lives."""
        return self.folder / f"{digest}.safetensors"

    def load(self, digest: str) -> tuple[torch.Tensor, dict[str, str]] | None:
        """The entry's tensor and metadata, or ``None`` when absent or corrupt (a corrupt one is removed)."""
        from safetensors import safe_open

        path = self.path(digest)
        if not path.exists():
            return None
        try:
            with safe_open(str(path), framework="pt") as handle:
                metadata = dict(handle.metadata() or {})
                tensor = handle.get_tensor("data")
        except Exception:  # safetensors raises several types for truncated or garbled files
            tensor, metadata = None, {}
        if tensor is None or metadata.get(HASH) != _tensor_digest(tensor):
            record("corrupt")
            path.unlink(missing_ok=True)
            return None
        return tensor, metadata

    def save(self, digest: str, tensor: torch.Tensor, metadata: Mapping[str, str] | None = None) -> None:
        """Write the entry to a temporary file and publish it (the first publisher wins)."""
        from safetensors.torch import save_file

        from mirplug.publish import publish_file, temporary_file

        self.folder.mkdir(parents=True, exist_ok=True)
        if not self._settings_checked:  # once per store: a missing or damaged settings.json is written again
            self._settings_checked = True
            if read_settings(self.folder / "settings.json") != json.loads(json.dumps(self.settings, default=str)):
                _atomic_write_text(self.folder / "settings.json",
                                   json.dumps(self.settings, indent=2, sort_keys=True, default=str))
        tensor = tensor.detach().cpu().contiguous()
        temporary = temporary_file(self.path(digest))
        try:
            save_file({"data": tensor}, str(temporary), metadata={**(metadata or {}), HASH: _tensor_digest(tensor)})
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        publish_file(temporary, self.path(digest))


def read_settings(path: Path) -> dict[str, Any] | None:
    """The settings a folder's ``settings.json`` records, or ``None`` when it is missing or damaged."""
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # ValueError covers truncated JSON and bytes that are not UTF-8
        return None
    return settings if isinstance(settings, dict) else None


def _tensor_digest(tensor: torch.Tensor) -> str:
    import torch
    import xxhash

    return xxhash.xxh3_128_hexdigest(tensor.contiguous().view(-1).view(torch.uint8).numpy())  # no copy


def _atomic_write_text(path: Path, text: str) -> None:
    from mirplug.publish import temporary_file

    temporary = temporary_file(path)
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


@dataclass
class CachedWindows(Windows):
    """:class:`Windows` plus the content hash and decoded duration of each kept clip.

    ``features[i]`` holds the features of kept clip ``i`` when :func:`decode_cells` was given
    the feature store and found them there (or, given a featurizer, computed them while
    decoding: ``fresh[i]``); such a clip's windows are then not kept and its rows of ``waves``
    read zero (only pass the store when nothing reads the waveforms again, i.e. when no
    waveform augmenter is active).
    """

    hashes: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    features: list[torch.Tensor | None] = field(default_factory=list)
    fresh: list[bool] = field(default_factory=list)


def window_store(sample_rate: int, clip_seconds: float, max_windows: int) -> EntryStore:
    """The store of decoded windows for these settings."""
    length = max(1, int(round(clip_seconds * sample_rate)))
    return EntryStore("windows", {"sample_rate": sample_rate, "window_samples": length, "max_windows": max_windows})


def _remembered_hash(memo: Path, stamp: list[int]) -> str | None:
    """The content hash remembered for a file of this size and modification time, if any.

    No memo yet, a garbled one, a stale stamp or another hash function all give ``None``: the
    caller hashes the content.
    """
    try:
        remembered = json.loads(memo.read_text())
        fresh = remembered["stamp"] == stamp and remembered.get("algorithm") == HASH
        return str(remembered["hash"]) if fresh else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def clip_digest(cell: Any) -> tuple[str | None, bytes | None]:
    """The content hash of a dataset cell's audio, and its bytes when they had to be read.

    Bytes in the cell are hashed directly. A file's hash is remembered under
    ``features/paths/`` with the file's size and modification time, so a warm run does not read
    audio whose features are cached (the stat check ``make`` and ``rsync`` rely on); a file
    that changes gets a new stamp, so its content is hashed again. ``(None, None)``: unreadable.
    """
    if isinstance(cell, dict):
        if cell.get("bytes"):
            data = bytes(cell["bytes"])
            return content_hash(data), data
        cell = cell.get("path")
    if isinstance(cell, (bytes, bytearray)):
        return content_hash(bytes(cell)), bytes(cell)
    if not isinstance(cell, str) or not cell:
        return None, None
    try:
        status = os.stat(cell)
        memo = features_root() / "paths" / f"{hashlib.sha256(os.path.abspath(cell).encode()).hexdigest()[:32]}.json"
        stamp = [status.st_size, status.st_mtime_ns]
        remembered = _remembered_hash(memo, stamp)
        if remembered is not None:
            return remembered, None
        data = Path(cell).read_bytes()
    except OSError:
        return None, None
    digest = content_hash(data)
    memo.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write_text(memo, json.dumps({"stamp": stamp, "hash": digest, "algorithm": HASH,
                                         "path": os.path.abspath(cell)}))
    return digest, data


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


def decode_cells(cells: Sequence[Any], ids: Sequence[str], sample_rate: int, clip_seconds: float, max_windows: int,
                 split: str, min_samples: int = 1, progress: Any = None,
                 features: EntryStore | None = None, featurizer: Any = None, *,
                 keep_windows: bool = True, max_seconds: float | None = DEFAULT_MAX_SECONDS) -> CachedWindows:
    """Decode clips into windows (see :func:`mirplug.data.decode_windows`), reusing cached windows by content.

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
    A clip longer than ``max_seconds`` (``data.max_seconds``) is skipped, whether its header
    says so (before decoding, see :func:`mirplug.audio.decode`) or its cached entry does.
    """
    import torch

    store = window_store(sample_rate, clip_seconds, max_windows) if keep_windows else None
    length = max(1, int(round(clip_seconds * sample_rate)))
    parts: list[torch.Tensor] = []
    owners: list[int] = []
    starts: list[float] = []
    rows: list[int] = []
    hashes: list[str] = []
    seconds: list[float] = []
    preloaded: list[torch.Tensor | None] = []
    fresh: list[bool] = []  # features computed here rather than read from the cache
    skipped: list[dict[str, str]] = []
    task_id = progress.add_task(f"decoding {split}", total=len(cells)) if progress is not None else None

    def load_or_decode(index: int) -> tuple[str | None, Any, int, Any, str | None]:
        """(digest, waves, n_samples, cached features, skip reason) of one clip; runs in a worker thread."""
        cell = cells[index]
        digest, data = clip_digest(cell)
        cached = features.load(digest) if features is not None and digest is not None else None
        if cached is not None and "samples" not in cached[1]:
            cached = None  # without the clip's length the short-clip check cannot be made
        entry = store.load(digest) if store is not None and digest is not None and cached is None else None
        if cached is not None:
            record("windows_not_needed")
            n_samples = int(cached[1].get("samples", "0"))
            return digest, torch.zeros(1, length).expand(len(cached[0]), length), n_samples, cached, None
        if entry is not None:
            record("windows_loaded")
            return digest, entry[0], int(entry[1]["samples"]), None, None
        if digest is None:
            return None, None, 0, None, unreadable_reason(cell)
        try:
            samples = decode(data if data is not None else cell, sample_rate, max_seconds).samples
        except BadClip as exc:
            return digest, None, 0, None, str(exc)
        waves = torch.from_numpy(np.stack([w for _, w in window_starts(samples, length, max_windows)]))
        record("windows_decoded")
        metadata = {"samples": str(len(samples))}
        if store is not None and digest is not None:
            store.save(digest, waves, metadata)
        if featurizer is not None and features is not None and len(samples) >= min_samples:
            computed = featurizer(waves)
            if digest is not None:
                features.save(digest, computed, metadata)
            return digest, torch.zeros(1, length).expand(len(waves), length), len(samples), (computed, None), None
        return digest, waves, len(samples), None, None

    # libsndfile, soxr, hashing, file I/O and torch release the GIL: threads decode clips in parallel.
    threads = decode_threads()
    torch_threads = torch.get_num_threads()
    featurizing = featurizer is not None and features is not None
    per_thread = max(1, torch_threads // threads) if featurizing else torch_threads
    try:
        # torch's thread count is set in each worker as well (OpenMP's setting is per thread), so
        # decoding threads that featurize share the cores instead of each taking all of them.
        with ThreadPoolExecutor(threads, initializer=torch.set_num_threads, initargs=(per_thread,)) as pool:
            for index, (digest, waves, n_samples, cached, failure) in enumerate(pool.map(load_or_decode,
                                                                                         range(len(cells)))):
                cell = cells[index]
                where = str((cell or {}).get("path") or ids[index]) if isinstance(cell, dict) else str(ids[index])
                if failure is None and max_seconds is not None and n_samples > max_seconds * sample_rate + 1:
                    failure = (f"longer than data.max_seconds={max_seconds:g}: {n_samples / sample_rate:.1f} s; "
                               f"raise data.max_seconds to use it")  # found in the cache: decoded before
                if failure is not None:
                    skipped.append({"split": split, "id": ids[index], "path": where, "reason": failure})
                elif n_samples < min_samples:
                    reason = (f"shorter than one analysis frame: {n_samples} samples < {min_samples} "
                              f"({1000.0 * min_samples / sample_rate:.1f} ms at {sample_rate} Hz)")
                    skipped.append({"split": split, "id": ids[index], "path": where, "reason": reason})
                else:
                    position = len(rows)
                    rows.append(index)
                    hashes.append(digest or "")
                    seconds.append(n_samples / sample_rate)
                    parts.append(waves)
                    preloaded.append(cached[0] if cached is not None else None)
                    fresh.append(cached is not None and cached[1] is None)
                    owners += [position] * len(waves)
                    starts += [offset / sample_rate for offset in window_offsets(n_samples, length, max_windows)]
                _advance(progress, task_id)
    finally:
        torch.set_num_threads(torch_threads)
    if parts and all(tensor is not None for tensor in preloaded):
        stacked = torch.zeros(1, length).expand(len(owners), length)  # every feature is cached
    else:
        stacked = torch.cat(parts) if parts else torch.zeros((0, length))
    return CachedWindows(stacked, torch.as_tensor(owners, dtype=torch.long), rows, skipped,
                         torch.as_tensor(starts, dtype=torch.float32), hashes, seconds, preloaded, fresh)


def _advance(progress: Any, task_id: Any) -> None:
    if task_id is not None:
        progress.advance(task_id)


def decode_windows_cached(dataset: Any, sample_rate: int, clip_seconds: float, max_windows: int, split: str,
                          progress: Any = None, min_samples: int = 1,
                          features: EntryStore | None = None, featurizer: Any = None, *,
                          keep_windows: bool = True, max_seconds: float | None = DEFAULT_MAX_SECONDS) -> CachedWindows:
    """:func:`decode_cells` over a ``datasets.Dataset`` with an ``audio`` column."""
    cells = list(dataset.with_format(None)["audio"]) if len(dataset) else []
    ids = dataset["id"] if "id" in dataset.column_names else [str(i) for i in range(len(dataset))]
    return decode_cells(cells, ids, sample_rate, clip_seconds, max_windows, split, min_samples, progress, features,
                        featurizer, keep_windows=keep_windows, max_seconds=max_seconds)


def featurizer_while_decoding(representation: Representation, device: Any) -> Any:
    """The featurizer :func:`decode_cells` may run in its threads, or ``None`` where it must not.

    Only on the CPU (a GPU featurizes whole batches better) and only for a representation
    declared :attr:`~mirplug.components.Representation.thread_safe`.
    """
    import torch

    from mirplug.model import featurize

    if torch.device(device).type != "cpu" or not getattr(representation, "thread_safe", False):
        return None
    return lambda waves: featurize(representation, waves, "cpu")


def representation_settings(name: str, options: Mapping[str, Any], representation: Representation,
                            clip_seconds: float, max_windows: int) -> dict[str, Any]:
    """Everything the features depend on: the representation, its class and options, the windows.

    A representation whose computation changed (a fix that changes its values) raises its
    class's ``revision``; the revision is part of the key, so features cached before are recomputed.
    """
    kind = type(representation)
    settings = {"representation": name, "class": f"{kind.__module__}.{kind.__qualname__}",
                "options": dict(options), "sample_rate": representation.sample_rate, "clip_seconds": clip_seconds,
                "max_windows": max_windows, "mirplug": __version__}
    revision = getattr(representation, "revision", 0)
    if revision:  # absent for revision 0, so the keys of unrevised representations stay as they were
        settings["revision"] = revision
    return settings


def min_samples_of(representation: Representation) -> int:
    """The shortest clip the representation can analyse (its ``frame_samples``, else one sample)."""
    return int(getattr(representation, "frame_samples", 1) or 1)


def feature_store(settings: Mapping[str, Any]) -> EntryStore:
    """The store of features computed with ``settings`` (see :func:`representation_settings`)."""
    return EntryStore(str(settings["representation"]), settings)


def cached_per_clip(store: EntryStore, windows: CachedWindows, compute: Any, what: str,
                    preloaded: Sequence[torch.Tensor | None] | None = None,
                    metadata: Any = None, fresh: Sequence[bool] | None = None) -> torch.Tensor:
    """Rows of every window, one cache entry per clip: cached clips are loaded, the others computed.

    ``compute(mask)`` gives the rows of the windows selected by the boolean ``mask`` (clip
    order); ``metadata(position)`` the entry metadata of kept clip ``position``; ``preloaded``
    entries (already read or computed by :func:`decode_cells`; ``fresh`` marks the computed
    ones) are used as they are. ``STATS`` counts ``<what>_loaded`` and ``<what>_computed``.
    """
    import torch

    counts = torch.bincount(windows.clip, minlength=len(windows.rows)).tolist()
    preloaded = preloaded or [None] * len(counts)
    n_fresh = sum(fresh or [])
    loaded: list[torch.Tensor | None] = []
    for digest, count, ready in zip(windows.hashes, counts, preloaded):
        entry = (ready, {}) if ready is not None else store.load(digest) if digest else None
        loaded.append(entry[0] if entry is not None and len(entry[0]) == count else None)
    missing = [position for position, tensor in enumerate(loaded) if tensor is None]
    record(f"{what}_loaded", len(loaded) - len(missing) - n_fresh)
    if n_fresh:
        record(f"{what}_computed", n_fresh)
    if missing:
        computed = compute(torch.isin(windows.clip, torch.as_tensor(missing, dtype=torch.long)))
        # Windows are stored clip by clip, so the computed rows split in clip order.
        for position, tensor in zip(missing, computed.split([counts[p] for p in missing])):
            loaded[position] = tensor
            if windows.hashes[position]:
                store.save(windows.hashes[position], tensor, metadata(position) if metadata else None)
        record(f"{what}_computed", len(missing))
    ready = [tensor for tensor in loaded if tensor is not None]
    return torch.cat(ready) if ready else torch.zeros(0)


def featurize_cached(representation: Representation, settings: Mapping[str, Any], windows: CachedWindows,
                     device: Any, batch_size: int = 64) -> torch.Tensor:
    """Features of every window: cached clips are loaded, the others computed in batches and stored."""
    from mirplug.model import featurize

    return cached_per_clip(
        feature_store(settings), windows, lambda mask: featurize(representation, windows.waves[mask], device, batch_size),
        "features", windows.features,
        lambda position: {"samples": str(round(windows.seconds[position] * representation.sample_rate))},
        windows.fresh)


def module_digest(module: torch.nn.Module) -> str:
    """A hash of every parameter and buffer of ``module`` (names, shapes, dtypes and values)."""
    import torch
    import xxhash

    digest = xxhash.xxh3_128()  # a pretrained model's weights are hashed on every run: fast matters
    for name, tensor in sorted(module.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def embedding_settings(backbone_name: str, options: Mapping[str, Any], model: Any,
                       feature_settings: Mapping[str, Any]) -> dict[str, Any]:
    """What a frozen backbone's embeddings depend on: its class, options and weights (with the input
    standardisation, fitted on the training split, when the backbone uses it) and the features."""
    kind = type(model.backbone)
    weights = module_digest(model.backbone)
    if model.backbone.standardize_input:
        weights += "+" + module_digest(model.standardize)
    options = {k: v for k, v in options.items() if k != "head"}  # the head comes after the embeddings
    return {"embeddings": backbone_name, "class": f"{kind.__module__}.{kind.__qualname__}", "options": options,
            "weights": weights, "features": settings_key(feature_settings), "mirplug": __version__}


def embed_cached(model: Any, settings: Mapping[str, Any], features: torch.Tensor, windows: CachedWindows,
                 device: Any) -> torch.Tensor:
    """Frozen-backbone embeddings of every window: cached clips are loaded, the others computed and stored.

    Like features, entries are per clip content, so a second run with the same frozen backbone
    (another head, seed or split of the same audio) skips the backbone's forward pass.
    """
    from mirplug.model import embed

    store = EntryStore(f"embeddings-{settings['embeddings']}", settings)
    return cached_per_clip(store, windows, lambda mask: embed(model, features[mask], device), "embeddings")


@dataclass
class CacheFolder:
    """One settings folder of the cache, for ``mirplug cache info``; ``settings`` is ``None`` when its
    ``settings.json`` is missing or damaged (the next run that writes there writes it again)."""

    name: str
    entries: int
    size_bytes: int
    settings: dict[str, Any] | None


def _published(root: Path) -> list[Path]:
    """The published folders under ``root`` (not temporaries, not lock files)."""
    from mirplug.publish import is_lock, is_temporary

    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not is_temporary(p) and not is_lock(p))


def _size(paths: Any) -> int:
    total = 0
    for path in paths:
        try:
            total += path.stat().st_size
        except OSError:  # removed meanwhile by another process
            pass
    return total


def cache_info() -> list[CacheFolder]:
    """Every settings folder under the feature cache with its entry count and size."""
    folders = []
    for folder in _published(features_root()):
        if folder.name == "paths":
            continue
        files = list(folder.glob("*.safetensors"))
        folders.append(CacheFolder(folder.name, len(files), _size(files), read_settings(folder / "settings.json")))
    return folders


def remembered_hashes() -> int:
    """How many files have their content hash remembered (``features/paths/``)."""
    folder = features_root() / "paths"
    return sum(1 for _ in folder.glob("*.json")) if folder.is_dir() else 0


def generators_root() -> Path:
    """The folder of fitted generators reused by later runs (see ``Generator.cache_folder``)."""
    return cache_dir() / "generators"


def generator_info() -> tuple[int, int]:
    """(fitted generators, bytes) in the generator cache."""
    folders = _published(generators_root())
    return len(folders), _size(f for folder in folders for f in folder.glob("*") if f.is_file())


def datasets_root() -> Path:
    """The folder of datasets generated into the cache (``data=synthetic`` and plugins' own)."""
    return cache_dir() / "datasets"


def dataset_info() -> tuple[int, int, int]:
    """(generated datasets, audio files, bytes) under ``datasets/``."""
    from mirplug.audio import AUDIO_EXTENSIONS

    folders = _published(datasets_root())
    files = [f for folder in folders for f in folder.rglob("*") if f.is_file()]
    return len(folders), sum(1 for f in files if f.suffix.lower() in AUDIO_EXTENSIONS), _size(files)


@dataclass
class Cleared:
    """What ``cache clear`` removed, per part of the cache, and what it could not remove."""

    entries: int = 0
    entry_bytes: int = 0
    generators: int = 0
    generator_bytes: int = 0
    datasets: int = 0
    dataset_files: int = 0
    dataset_bytes: int = 0
    in_use: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return self.entry_bytes + self.generator_bytes + self.dataset_bytes


def cache_clear() -> Cleared:
    """Remove the feature cache, the fitted generators and the generated datasets.

    A dataset or generator that another process is building or repairing right now (its lock is
    held) is kept and named in ``in_use``; what could not be removed is named in ``failed``.
    """
    folders = cache_info()
    cleared = Cleared(entries=sum(f.entries for f in folders), entry_bytes=sum(f.size_bytes for f in folders))
    cleared.generators, cleared.generator_bytes = generator_info()
    cleared.datasets, cleared.dataset_files, cleared.dataset_bytes = dataset_info()
    _remove(features_root(), cleared)
    for root in (generators_root(), datasets_root()):
        _clear_locked(root, cleared)
    return cleared


def _result_name(path: Path) -> str:
    """The result a path under generators/ or datasets/ belongs to: itself, its lock or a temporary of it."""
    from mirplug.publish import TEMPORARY_MARK

    if path.name.endswith(".lock"):
        return path.name[:-len(".lock")]
    if TEMPORARY_MARK in path.name:
        return path.name.lstrip(".").split(TEMPORARY_MARK)[0]
    return path.name


def _clear_locked(root: Path, cleared: Cleared) -> None:
    """Remove every result under ``root`` whose lock is free, with its temporaries and lock file."""
    from filelock import Timeout

    from mirplug.publish import lock

    if not root.is_dir():
        return
    for name in sorted({_result_name(path) for path in root.iterdir()}):
        parts = [path for path in root.iterdir() if _result_name(path) == name and not path.name.endswith(".lock")]
        try:
            with lock(root / name, timeout=0):
                for path in parts:
                    _remove(path, cleared)
        except Timeout:
            cleared.in_use.append(str(root / name))
            continue
        (root / f"{name}.lock").unlink(missing_ok=True)
    if not cleared.in_use:
        _remove(root, cleared)


def _remove(path: Path, cleared: Cleared) -> None:
    def failed(function: Any, name: str, error: Any) -> None:
        exc = error[1] if isinstance(error, tuple) else error
        if not isinstance(exc, FileNotFoundError):
            cleared.failed.append(f"{name}: {getattr(exc, 'strerror', None) or exc}")

    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, onerror=failed)
    elif path.exists() or path.is_symlink():
        try:
            path.unlink()
        except OSError as exc:
            failed(None, str(path), (type(exc), exc, None))
