"""Read TensorFlow v1/v2 checkpoints (the "tensor bundle" format) with numpy alone.

A checkpoint ``PREFIX`` is two files: ``PREFIX.index``, a LevelDB-style SSTable that maps
each variable name to a ``BundleEntryProto`` (dtype, shape, shard, offset, size), and
``PREFIX.data-00000-of-0000N``, the raw little-endian tensor bytes. No TensorFlow
package reads them without TensorFlow itself, so this module parses the two small
formats by hand: SSTable blocks (prefix-compressed keys, uncompressed blocks as TF
writes them) and the few protobuf fields of ``BundleEntryProto`` (varints only).

References: tensorflow/core/protobuf/tensor_bundle.proto and
tensorflow/core/lib/io/format.cc (the table format shared with LevelDB).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mirplug import DataError

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_BYTES = 48
_BLOCK_TRAILER_BYTES = 5  # 1 byte compression type + 4 bytes masked crc32c
# tensorflow/core/framework/types.proto DataType -> numpy little-endian dtype.
_DTYPES: dict[int, str] = {1: "<f4", 2: "<f8", 3: "<i4", 4: "|u1", 5: "<i2", 6: "|i1", 9: "<i8", 10: "|b1",
                           19: "<f2"}


@dataclass(frozen=True)
class BundleEntry:
    """Where one tensor lies in the data file."""

    dtype: int
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int


def _varint(buffer: bytes, position: int) -> tuple[int, int]:
    """Decode a base-128 varint at ``position``; returns (value, next position)."""
    result, shift = 0, 0
    while True:
        byte = buffer[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def _fields(message: bytes) -> list[tuple[int, int | bytes]]:
    """The (field number, value) pairs of a protobuf message; varints as int, others as bytes."""
    out: list[tuple[int, int | bytes]] = []
    position = 0
    while position < len(message):
        key, position = _varint(message, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(message, position)
            out.append((number, value))
        elif wire == 2:
            length, position = _varint(message, position)
            out.append((number, message[position:position + length]))
            position += length
        elif wire == 5:
            out.append((number, message[position:position + 4]))
            position += 4
        elif wire == 1:
            out.append((number, message[position:position + 8]))
            position += 8
        else:
            raise DataError(f"unsupported protobuf wire type {wire} in a checkpoint index")
    return out


def _entry(message: bytes) -> BundleEntry:
    """Parse a ``BundleEntryProto``: 1 dtype, 2 shape, 3 shard_id, 4 offset, 5 size."""
    dtype, shard, offset, size = 0, 0, 0, 0
    shape: list[int] = []
    for number, value in _fields(message):
        if number == 1 and isinstance(value, int):
            dtype = value
        elif number == 2 and isinstance(value, bytes):
            # TensorShapeProto: field 2 = repeated Dim {1: size}
            for dim_number, dim in _fields(value):
                if dim_number == 2 and isinstance(dim, bytes):
                    shape.append(next(int(v) for n, v in _fields(dim) if n == 1 and isinstance(v, int)))
        elif number == 3 and isinstance(value, int):
            shard = value
        elif number == 4 and isinstance(value, int):
            offset = value
        elif number == 5 and isinstance(value, int):
            size = value
    return BundleEntry(dtype, tuple(shape), shard, offset, size)


def _block(data: bytes, offset: int, size: int) -> list[tuple[bytes, bytes]]:
    """The (key, value) pairs of one SSTable block (keys are prefix-compressed)."""
    if data[offset + size] != 0:
        raise DataError("checkpoint index block is compressed; only uncompressed indexes are supported")
    block = data[offset:offset + size]
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * n_restarts
    entries: list[tuple[bytes, bytes]] = []
    position, key = 0, b""
    while position < end:
        shared, position = _varint(block, position)
        unshared, position = _varint(block, position)
        value_length, position = _varint(block, position)
        key = key[:shared] + block[position:position + unshared]
        position += unshared
        entries.append((key, block[position:position + value_length]))
        position += value_length
    return entries


def read_index(prefix: str | Path) -> dict[str, BundleEntry]:
    """Every tensor entry of the checkpoint ``prefix`` (the header entry ``""`` left out)."""
    path = Path(f"{prefix}.index")
    if not path.is_file():
        raise DataError(f"checkpoint index {path} not found")
    data = path.read_bytes()
    if len(data) < _FOOTER_BYTES or struct.unpack_from("<Q", data, len(data) - 8)[0] != _TABLE_MAGIC:
        raise DataError(f"{path} is not a TensorFlow checkpoint index (bad table magic)")
    footer = data[len(data) - _FOOTER_BYTES:]
    _, position = _varint(footer, 0)  # metaindex offset
    _, position = _varint(footer, position)  # metaindex size
    index_offset, position = _varint(footer, position)
    index_size, _ = _varint(footer, position)
    entries: dict[str, BundleEntry] = {}
    for _, handle in _block(data, index_offset, index_size):
        block_offset, position = _varint(handle, 0)
        block_size, _ = _varint(handle, position)
        for key, value in _block(data, block_offset, block_size):
            if key:
                entries[key.decode("utf-8")] = _entry(value)
    return entries


def read_checkpoint(prefix: str | Path) -> dict[str, np.ndarray]:
    """Every tensor of the checkpoint ``prefix`` as a numpy array (copied out of the data file)."""
    entries = read_index(prefix)
    shards = {entry.shard for entry in entries.values()}
    n_shards = max(shards, default=0) + 1
    files = {shard: Path(f"{prefix}.data-{shard:05d}-of-{n_shards:05d}") for shard in shards}
    for file in files.values():
        if not file.is_file():
            raise DataError(f"checkpoint data file {file} not found")
    blobs = {shard: file.read_bytes() for shard, file in files.items()}
    tensors: dict[str, np.ndarray] = {}
    for name, entry in entries.items():
        if entry.dtype not in _DTYPES:
            continue  # e.g. string tensors; musicnn's checkpoints hold none
        raw = blobs[entry.shard][entry.offset:entry.offset + entry.size]
        tensors[name] = np.frombuffer(raw, dtype=_DTYPES[entry.dtype]).reshape(entry.shape).copy()
    return tensors
