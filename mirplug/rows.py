"""Rows of a split, one per window (features or frozen-backbone embeddings), read a batch at a time.

A run never holds the features of a whole split in one tensor: :class:`EntryRows` reads the rows a
batch needs straight from the cache's per-clip safetensors files (positioned reads of the tensor
bytes, a few open files kept), so memory holds one batch whatever the size of the collection; the
operating system's page cache, not the process, keeps what is read often. Clips that have no cache
entry (audio given as arrays, without a content hash) keep their rows in memory.
:class:`TensorRows` wraps a tensor (small things, and the reference the tests compare with).

Both give the same tensor for the same indices: ``rows[indices]`` is ``torch.cat(all)[indices]``.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import json
import os
import struct
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mirplug.errors import RunError

SAFETENSORS_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
                      "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
                      "BOOL": torch.bool}
OPEN_FILES = 64  # file descriptors kept open between batches


@dataclass(frozen=True)
class Located:
    """Where the tensor of a safetensors file lies: the file, the byte offset of its data, shape and dtype."""

    path: Path
    offset: int
    shape: tuple[int, ...]
    dtype: torch.dtype


def locate(path: Path, name: str = "data") -> Located:
    """Parse the header of the safetensors file ``path`` (8 bytes of length, then JSON) for tensor ``name``."""
    with open(path, "rb") as stream:
        (length,) = struct.unpack("<Q", stream.read(8))
        header = json.loads(stream.read(length))
    info = header[name]
    start, _ = info["data_offsets"]
    return Located(Path(path), 8 + length + int(start), tuple(int(n) for n in info["shape"]),
                   SAFETENSORS_DTYPES[info["dtype"]])


class Rows:
    """Rows indexed by window number: ``rows[indices]``, ``rows[a:b]``, ``len(rows)``, ``rows.batches(n)``."""

    row_shape: tuple[int, ...] = ()
    dtype: torch.dtype = torch.float32

    def __len__(self) -> int:
        raise NotImplementedError

    def take(self, indices: torch.Tensor) -> torch.Tensor:
        """The rows ``indices`` (a 1-d integer tensor), in that order, as one tensor."""
        raise NotImplementedError

    @property
    def shape(self) -> tuple[int, ...]:
        """``(rows, *row_shape)``, as a tensor of all of them would have."""
        return (len(self), *self.row_shape)

    def __getitem__(self, key: Any) -> torch.Tensor:
        if isinstance(key, slice):
            return self.take(torch.arange(len(self))[key])
        indices = torch.as_tensor(key)
        if indices.dtype == torch.bool:
            indices = indices.nonzero().flatten()
        return self.take(indices.reshape(-1).long())

    def batches(self, batch_size: int) -> Iterator[tuple[int, torch.Tensor]]:
        """(first row, rows) of consecutive batches of ``batch_size`` rows."""
        for first in range(0, len(self), batch_size):
            yield first, self.take(torch.arange(first, min(first + batch_size, len(self))))

    def close(self) -> None:
        """Release what reading holds (open files)."""


class TensorRows(Rows):
    """Rows of a tensor in memory."""

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor
        self.row_shape, self.dtype = tuple(tensor.shape[1:]), tensor.dtype

    def __len__(self) -> int:
        return len(self.tensor)

    def take(self, indices: torch.Tensor) -> torch.Tensor:
        return self.tensor[indices]


class EntryRows(Rows):
    """The rows of many clips, each clip a cache entry file (:class:`Located`) or a tensor in memory.

    ``sources`` are in window order: clip 0's rows come first. Every source has ``row_shape`` rows
    of ``dtype`` (a cache entry is checked against its checksum when it is located, see
    :func:`mirplug.cache.cached_per_clip`).
    """

    def __init__(self, sources: Sequence[Located | torch.Tensor], row_shape: tuple[int, ...],
                 dtype: torch.dtype) -> None:
        self.sources = list(sources)
        self.row_shape, self.dtype = tuple(row_shape), dtype
        counts = torch.as_tensor([source.shape[0] for source in self.sources], dtype=torch.long)
        self.ends = counts.cumsum(0)
        self.starts = self.ends - counts
        self.row_bytes = int(torch.Size(self.row_shape).numel()) * torch.empty(0, dtype=dtype).element_size()
        self._files: OrderedDict[Path, int] = OrderedDict()

    def __len__(self) -> int:
        return int(self.ends[-1]) if len(self.ends) else 0

    def take(self, indices: torch.Tensor) -> torch.Tensor:
        indices = torch.as_tensor(indices, dtype=torch.long).reshape(-1)
        out = torch.empty((len(indices), *self.row_shape), dtype=self.dtype)
        if not len(indices):
            return out
        if int(indices.min()) < 0 or int(indices.max()) >= len(self):
            raise IndexError(f"row {int(indices.max())} of {len(self)}")
        clips = torch.searchsorted(self.ends, indices, right=True)
        local = indices - self.starts[clips]
        for clip in torch.unique(clips).tolist():
            where = (clips == clip).nonzero().flatten()
            wanted = local[where]
            source = self.sources[clip]
            if isinstance(source, torch.Tensor):
                out[where] = source[wanted]
                continue
            low, high = int(wanted.min()), int(wanted.max())
            block = self._read(source, low, high - low + 1)
            out[where] = block[wanted - low]
        return out

    def _read(self, source: Located, first: int, count: int) -> torch.Tensor:
        """Rows ``first .. first + count - 1`` of the entry ``source``, read with one positioned read."""
        size = count * self.row_bytes
        try:
            handle = self._open(source.path)
            data = os.pread(handle, size, source.offset + first * self.row_bytes) if hasattr(os, "pread") else None
            if data is None:  # no positioned reads (Windows): seek, then read
                with open(source.path, "rb") as stream:
                    stream.seek(source.offset + first * self.row_bytes)
                    data = stream.read(size)
        except OSError as exc:
            raise RunError(f"the cache entry {source.path} could not be read during the run ({exc}); was the cache "
                           f"cleared meanwhile? run again") from None
        if len(data) != size:
            raise RunError(f"the cache entry {source.path} became shorter during the run; was the cache cleared "
                           f"meanwhile? run again")
        return torch.frombuffer(bytearray(data), dtype=self.dtype).reshape(count, *self.row_shape)

    def _open(self, path: Path) -> int:
        handle = self._files.pop(path, None)
        if handle is None:
            handle = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
            while len(self._files) >= OPEN_FILES:
                os.close(self._files.popitem(last=False)[1])
        self._files[path] = handle
        return handle

    def close(self) -> None:
        while self._files:
            os.close(self._files.popitem()[1])

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


class MappedRows(Rows):
    """The rows of ``source`` passed through ``function`` when they are read (e.g. a backbone's embeddings of
    features), so nothing of the split is computed ahead or kept."""

    def __init__(self, source: Rows, function: Any) -> None:
        self.source, self.function = source, function
        first = function(source.take(torch.arange(min(1, len(source))))) if len(source) else torch.zeros(0)
        self.row_shape, self.dtype = tuple(first.shape[1:]), first.dtype

    def __len__(self) -> int:
        return len(self.source)

    def take(self, indices: torch.Tensor) -> torch.Tensor:
        return self.function(self.source.take(indices))


def as_rows(value: Rows | torch.Tensor) -> Rows:
    """``value`` as :class:`Rows` (a tensor is wrapped)."""
    return value if isinstance(value, Rows) else TensorRows(value)
