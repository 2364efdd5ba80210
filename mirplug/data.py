"""Dataset stage: load through the dataset plugin, split, decode into fixed-length windows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mirplug.errors import DataError

SPLITS = ("train", "validation", "test")


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


def split_dataset(dataset: Any, label_column: str | None, validation: float, test: float, seed: int) -> dict[str, Any]:
    """Seeded, stratified train/validation/test split (predefined splits are kept as given)."""
    import datasets

    if isinstance(dataset, datasets.DatasetDict):
        splits = {name: dataset[name] for name in dataset}
        if "train" not in splits:
            raise DataError(f"the dataset has splits {sorted(splits)} but no 'train' split")
        if "test" not in splits:
            splits["train"], splits["test"] = _carve(splits["train"], label_column, test, seed, "test")
        if "validation" not in splits:
            splits["train"], splits["validation"] = _carve(splits["train"], label_column, validation, seed, "validation")
        return {name: splits[name] for name in SPLITS}
    _check_counts(dataset, label_column, 3, "to split into train/validation/test")
    rest, test_part = _carve(dataset, label_column, test, seed, "test")
    train, validation_part = _carve(rest, label_column, validation / max(1e-9, 1 - test), seed, "validation")
    return {"train": train, "validation": validation_part, "test": test_part}


def subsample_per_class(dataset: Any, label_column: str | None, per_class: int, seed: int) -> tuple[Any, list[str]]:
    """At most ``per_class`` clips of each label, drawn with ``seed``; also the labels that had fewer.

    The low-resource protocol (``data.per_class=K``) applies this to the training split only,
    so validation and test stay the same size.
    """
    if not label_column:
        raise DataError("data.per_class needs a single-label task (clips are drawn per label)")
    labels = np.asarray(dataset[label_column])
    rng = np.random.default_rng([seed, per_class])
    keep: list[int] = []
    short: list[str] = []
    names = dataset.features[label_column].names
    for label in sorted(set(labels.tolist())):
        members = np.flatnonzero(labels == label)
        if len(members) < per_class:
            short.append(f"{names[label]}={len(members)}")
        keep.extend(rng.permutation(members)[:per_class].tolist())
    return dataset.select(sorted(keep)), short


def imbalance(dataset: Any, label_column: str | None, ratio: float, seed: int) -> Any:
    """A long-tailed training split: label ``k`` of ``C`` keeps ``ratio ** (-k / (C - 1))`` of its clips.

    The first label keeps all its clips and the last (the rarest) keeps ``1 / ratio`` of them,
    at least one; clips are drawn with ``seed``. Applied to the training split only.
    """
    if not label_column:
        raise DataError("data.imbalance needs a single-label task (clips are dropped per label)")
    labels = np.asarray(dataset[label_column])
    present = sorted(set(labels.tolist()))
    rng = np.random.default_rng([seed, int(ratio * 1000)])
    keep: list[int] = []
    for rank, label in enumerate(present):
        members = np.flatnonzero(labels == label)
        fraction = ratio ** (-rank / max(1, len(present) - 1))
        count = max(1, int(round(fraction * len(members))))
        keep.extend(rng.permutation(members)[:count].tolist())
    return dataset.select(sorted(keep))


def _carve(dataset: Any, label_column: str | None, fraction: float, seed: int, what: str) -> tuple[Any, Any]:
    from sklearn.model_selection import train_test_split

    indices = np.arange(len(dataset))
    labels = np.asarray(dataset[label_column]) if label_column else None
    n_classes = len(set(labels.tolist())) if labels is not None else 1
    size = max(int(round(fraction * len(dataset))), n_classes)
    if fraction <= 0 or size >= len(dataset):
        raise DataError(f"cannot carve a {what} split of {fraction:.0%} from {len(dataset)} clips")
    if labels is not None:
        _check_counts(dataset, label_column, 2, f"to carve a {what} split")
    keep, held = train_test_split(indices, test_size=size, random_state=seed, stratify=labels)
    return dataset.select(sorted(keep)), dataset.select(sorted(held))


def _check_counts(dataset: Any, label_column: str | None, minimum: int, purpose: str) -> None:
    if not label_column:
        if len(dataset) < minimum:
            raise DataError(f"the dataset has {len(dataset)} clips; at least {minimum} are needed {purpose}")
        return
    names = dataset.features[label_column].names
    counts = Counter(dataset[label_column])
    found = ", ".join(f"{names[i]}={counts.get(i, 0)}" for i in range(len(names)))
    present = [i for i in range(len(names)) if counts.get(i, 0) > 0]
    if len(present) < 2:
        raise DataError(f"the dataset has clips of {len(present)} label(s) only (found: {found}); a classifier needs two or more")
    few = [names[i] for i in present if counts[i] < minimum]
    if few:
        raise DataError(
            f"label '{few[0]}' has {counts[names.index(few[0])]} clip(s); at least {minimum} per label are "
            f"needed {purpose} (found: {found})"
        )


def decode_windows(dataset: Any, sample_rate: int, clip_seconds: float, max_windows: int, split: str,
                   progress: Any = None, max_seconds: float | None = None) -> Windows:
    """Decode every clip to mono at ``sample_rate`` and cut it into windows.

    A clip shorter than a window is zero-padded; a longer one gives up to ``max_windows``
    evenly spaced windows. Clips that fail to decode are reported in ``skipped``. Decoded
    windows are reused from the cache by audio content (:mod:`mirplug.cache`), the one
    decoding path of mirplug. ``max_seconds``: see :func:`mirplug.cache.decode_cells` (``None``:
    the default of ``data.max_seconds``).
    """
    from mirplug.audio import DEFAULT_MAX_SECONDS
    from mirplug.cache import decode_windows_cached  # the cache module imports this one

    return decode_windows_cached(dataset, sample_rate, clip_seconds, max_windows, split, progress,
                                 max_seconds=DEFAULT_MAX_SECONDS if max_seconds is None else max_seconds)


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

    length = max(1, int(round(clip_seconds * sample_rate)))
    pairs = window_starts(samples, length, max_windows)
    return Windows(torch.from_numpy(np.stack([w for _, w in pairs])), torch.zeros(len(pairs), dtype=torch.long), [0],
                   [], torch.as_tensor([s / sample_rate for s, _ in pairs], dtype=torch.float32))
