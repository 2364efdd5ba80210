"""The feature cache: content-addressed entries (decoded windows, features, embeddings), one per clip and settings.

This module stores and finds entries only: decoding is :mod:`mirplug.windows`, computing features and
embeddings is :mod:`mirplug.inference`.

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

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mirplug import __version__
from mirplug.paths import cache_dir

if TYPE_CHECKING:  # torch is imported where tensors are made, so `mirplug cache info` stays quick
    import torch

    from mirplug.components import Representation
    from mirplug.rows import EntryRows, Located

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
    revision = representation.revision
    if revision:  # absent for revision 0, so the keys of unrevised representations stay as they were
        settings["revision"] = revision
    return settings


def feature_store(settings: Mapping[str, Any]) -> EntryStore:
    """The store of features computed with ``settings`` (see :func:`representation_settings`)."""
    return EntryStore(str(settings["representation"]), settings)


CHUNK_ROWS = 256  # rows computed at once for clips missing from the cache (memory stays one chunk)


def cached_per_clip(store: EntryStore, windows: Any, compute: Any, what: str,
                    preloaded: Sequence[torch.Tensor | bool | None] | None = None,
                    metadata: Any = None, fresh: Sequence[bool] | None = None) -> EntryRows:
    """Rows of every window, one cache entry per clip: cached clips are located, the others computed and stored.

    ``compute(mask)`` gives the rows of the windows selected by the boolean ``mask`` (clip
    order); it is called for a few clips at a time (about ``CHUNK_ROWS`` rows), so memory holds
    one chunk, never the split. ``metadata(position)`` is the entry metadata of kept clip
    ``position``; ``preloaded[position]`` is ``True`` for a clip whose entry
    :func:`mirplug.windows.decode_cells` already checked (or computed and stored: ``fresh``), or
    its rows as a tensor (a clip without a content hash, hence no entry). The rows are read back
    from the entries a batch at a time (:class:`~mirplug.rows.EntryRows`). ``STATS`` counts
    ``<what>_loaded`` and ``<what>_computed``.
    """
    import torch

    counts = torch.bincount(windows.clip, minlength=len(windows.rows)).tolist()
    preloaded = preloaded or [None] * len(counts)
    n_fresh = sum(fresh or [])
    sources: list[Located | torch.Tensor | None] = []
    for digest, count, ready in zip(windows.hashes, counts, preloaded):
        if isinstance(ready, torch.Tensor):
            sources.append(ready if len(ready) == count else None)
        elif ready is True or (digest and _intact(store, digest, count)):
            sources.append(_located(store, digest, count))
        else:
            sources.append(None)
    missing = [position for position, source in enumerate(sources) if source is None]
    record(f"{what}_loaded", len(sources) - len(missing) - n_fresh)
    if n_fresh:
        record(f"{what}_computed", n_fresh)
    for chunk in _chunks(missing, counts):
        computed = compute(torch.isin(windows.clip, torch.as_tensor(chunk, dtype=torch.long)))
        # Windows are stored clip by clip, so the computed rows split in clip order.
        for position, tensor in zip(chunk, computed.split([counts[p] for p in chunk])):
            digest = windows.hashes[position]
            if digest:
                store.save(digest, tensor, metadata(position) if metadata else None)
                sources[position] = _located(store, digest, len(tensor))
            else:
                sources[position] = tensor.clone()  # no content hash, no entry: kept in memory
    if missing:
        record(f"{what}_computed", len(missing))
    return _rows(sources)


def _intact(store: EntryStore, digest: str, count: int) -> bool:
    """Whether the entry of ``digest`` exists, matches its checksum and holds ``count`` rows."""
    entry = store.load(digest)
    if entry is not None and len(entry[0]) != count:
        store.path(digest).unlink(missing_ok=True)  # stale: recomputed (a new entry does not replace one)
        return False
    return entry is not None


def _located(store: EntryStore, digest: str, count: int) -> Located:
    from mirplug.rows import locate

    located = locate(store.path(digest))
    if located.shape[0] != count:  # another process published other settings' rows under this name: a bug
        raise RuntimeError(f"cache entry {store.path(digest)} holds {located.shape[0]} rows, expected {count}")
    return located


def _chunks(positions: list[int], counts: list[int]) -> Iterator[list[int]]:
    """``positions`` in groups of about ``CHUNK_ROWS`` rows (at least one clip each)."""
    chunk: list[int] = []
    rows = 0
    for position in positions:
        if chunk and rows + counts[position] > CHUNK_ROWS:
            yield chunk
            chunk, rows = [], 0
        chunk.append(position)
        rows += counts[position]
    if chunk:
        yield chunk


def _rows(sources: list[Any]) -> EntryRows:
    import torch

    from mirplug.rows import EntryRows

    first = next((source for source in sources if source is not None), None)
    if first is None:
        return EntryRows([], (), torch.float32)
    return EntryRows(sources, tuple(first.shape[1:]), first.dtype)


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
                       feature_settings: Mapping[str, Any], head_options: Sequence[str] = (),
                       precision: str = "fp32") -> dict[str, Any]:
    """What a frozen backbone's embeddings depend on: its class, options and weights (with the input
    standardisation, fitted on the training split, when the backbone uses it), the features, and the
    autocast precision they were computed in (``train.precision``).

    ``head_options`` (:attr:`mirplug.specs.BackboneSpec.head_options`) change only the head, which comes
    after the embeddings: they are left out, so every head shares the cached embeddings."""
    weights = module_digest(model.backbone)
    if model.backbone.standardize_input:
        weights += "+" + module_digest(model.standardize)
    return module_settings(backbone_name, options, model.backbone, weights, feature_settings, head_options, precision)


def module_settings(name: str, options: Mapping[str, Any], module: Any, weights: str,
                    feature_settings: Mapping[str, Any], head_options: Sequence[str] = (),
                    precision: str = "fp32") -> dict[str, Any]:
    """The cache key of the embeddings of ``module`` called ``name`` (a backbone, or a part of one) with
    ``options`` (less its ``head_options``) and ``weights`` (:func:`module_digest`) on the features of
    ``feature_settings``, computed under ``precision``'s autocast (named only when not fp32, so fp32 keys
    stay as they were)."""
    kind = type(module)
    options = {k: v for k, v in options.items() if k not in head_options}
    settings = {"embeddings": name, "class": f"{kind.__module__}.{kind.__qualname__}", "options": options,
                "weights": weights, "features": settings_key(feature_settings), "mirplug": __version__}
    if precision != "fp32":
        settings["precision"] = precision
    return settings


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
