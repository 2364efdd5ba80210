"""Streaming rows: what a run reads from the cache a batch at a time equals what one in-memory tensor gives."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import tone, write_audio
from mirplug.cache import feature_store, representation_settings
from mirplug.inference import featurize, featurize_rows
from mirplug.model import CentroidHead, Standardize
from mirplug.rows import EntryRows, MappedRows, TensorRows
from mirplug.training import Batches
from mirplug.windows import decode_cells
from mirplug_builtin.representations.mel import LogMel

SAMPLE_RATE = 16000


def decoded(tmp_path: Path, lengths: list[float]) -> tuple[LogMel, dict, object]:
    cells = []
    for index, seconds in enumerate(lengths):
        path = write_audio(tmp_path / f"clip{index}.wav", tone(200.0 + 53.0 * index, seconds))
        cells.append({"path": str(path), "bytes": None})
    mel = LogMel(sample_rate=SAMPLE_RATE, n_mels=24)
    settings = representation_settings("mel", {"n_mels": 24}, mel, 1.0, 4)
    windows = decode_cells(cells, [str(i) for i in range(len(cells))], SAMPLE_RATE, 1.0, 4, "train", 512)
    return mel, settings, windows


def test_rows_read_from_the_cache_equal_the_in_memory_tensor_batch_by_batch(tmp_path: Path) -> None:
    mel, settings, windows = decoded(tmp_path, [1.0, 2.5, 0.7, 4.0, 1.5])
    reference = featurize(mel, windows.waves, "cpu")  # the whole split in one tensor, as runs used to hold it
    rows = featurize_rows(mel, settings, windows, "cpu")
    assert isinstance(rows, EntryRows) and rows.shape == reference.shape
    # rows kept in memory (a source without a cache entry) mix with rows read from entries
    mixed = EntryRows([*rows.sources[:2], reference[-4:]], rows.row_shape, rows.dtype)
    assert torch.equal(mixed[torch.tensor([len(mixed) - 1, 0, 2])], torch.cat([rows[:len(mixed) - 4], reference[-4:]])[
        torch.tensor([len(mixed) - 1, 0, 2])])
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(reference), generator=generator)
    for first in range(0, len(order), 5):  # the batches an epoch draws
        indices = order[first:first + 5]
        assert torch.equal(rows[indices], reference[indices])
    assert torch.equal(rows[2:9], reference[2:9]) and torch.equal(rows[:], reference)
    assert torch.equal(torch.cat([batch for _, batch in rows.batches(4)]), reference)
    # read again from the entries on disk (a warm cache), through the training batches
    again = featurize_rows(mel, settings, decode_cells(
        [{"path": str(tmp_path / f"clip{i}.wav"), "bytes": None} for i in range(5)], [str(i) for i in range(5)],
        SAMPLE_RATE, 1.0, 4, "train", 512, features=feature_store(settings)), "cpu")
    assert all(not isinstance(source, torch.Tensor) for source in again.sources)
    targets = torch.arange(len(again))
    streamed = Batches(mel, windows, again, targets, [], 0, torch.device("cpu"), ["x"] * 5)
    in_memory = Batches(mel, windows, TensorRows(reference), targets, [], 0, torch.device("cpu"), ["x"] * 5)
    for indices in (torch.tensor([3, 0, 7]), torch.arange(len(again)).flip(0)):
        assert all(torch.equal(a, b) for a, b in zip(streamed.batch(indices, 1), in_memory.batch(indices, 1)))


def test_an_entry_read_during_the_run_that_is_gone_is_one_clear_error(tmp_path: Path) -> None:
    from mirplug.errors import RunError

    mel, settings, windows = decoded(tmp_path, [1.0, 1.0])
    rows = featurize_rows(mel, settings, windows, "cpu")
    rows.close()
    for source in rows.sources:
        if not isinstance(source, torch.Tensor):
            source.path.unlink()
    with pytest.raises(RunError, match="could not be read during the run"):
        rows[torch.tensor([0])]


def test_statistics_fitted_a_batch_at_a_time_match_the_whole_tensor(tmp_path: Path) -> None:
    features = torch.randn(203, 8, 17) * 5 + 40
    whole = Standardize((8, 17))
    whole.mean.copy_(features.mean(dim=(0, 2)).reshape(8, 1))
    whole.std.copy_(features.std(dim=(0, 2)).reshape(8, 1))
    for batch_size in (1, 7, 256):
        streamed = Standardize((8, 17))
        streamed.fit(TensorRows(features), batch_size=batch_size)
        assert torch.allclose(streamed.mean, whole.mean, rtol=1e-6) and torch.allclose(streamed.std, whole.std, rtol=1e-5)
    vectors = torch.randn(50, 6)
    streamed = Standardize((6,))
    streamed.fit(TensorRows(vectors), batch_size=9)
    assert torch.allclose(streamed.mean, vectors.mean(dim=0), atol=1e-6)
    assert torch.allclose(streamed.std, vectors.std(dim=0), atol=1e-6)


def test_the_centroid_head_fitted_a_batch_at_a_time_matches_the_whole_tensor() -> None:
    embeddings, targets = torch.randn(40, 5), torch.arange(40) % 3
    head = CentroidHead(5, 3)
    head.fit(MappedRows(TensorRows(embeddings), lambda batch: batch * 1.0), targets, batch_size=6)
    center = embeddings.mean(dim=0)
    unit = torch.nn.functional.normalize(embeddings - center, dim=1)
    expected = torch.stack([torch.nn.functional.normalize(unit[targets == k].mean(dim=0), dim=0) for k in range(3)])
    assert torch.allclose(head.center, center, atol=1e-6) and torch.allclose(head.centroids, expected, atol=1e-6)
