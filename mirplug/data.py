"""Dataset stage: splits (seeded, stratified; k-fold) and the training subsets of the low-resource protocols.

Decoding into windows is :mod:`mirplug.windows`; loading through the dataset plugin is :mod:`mirplug.build`.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from mirplug.errors import DataError

if TYPE_CHECKING:
    from mirplug.components import Task

SPLITS = ("train", "validation", "test")


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


def kfold_splits(dataset: Any, label_column: str | None, folds: int, validation: float,
                 seed: int) -> list[dict[str, Any]]:
    """``folds`` train/validation/test splits: each fold is the test set once (stratified when labelled)."""
    import datasets as hf_datasets
    from sklearn.model_selection import KFold, StratifiedKFold

    if isinstance(dataset, hf_datasets.DatasetDict):
        dataset = hf_datasets.concatenate_datasets([dataset[name] for name in dataset])
    if label_column:
        _check_counts(dataset, label_column, folds, f"for eval.folds={folds}")
        splitter: Any = StratifiedKFold(folds, shuffle=True, random_state=seed)
        labels = np.asarray(dataset[label_column])
    else:
        if len(dataset) < 2 * folds:
            raise DataError(f"eval.folds={folds} needs at least {2 * folds} clips; the dataset has {len(dataset)}")
        splitter, labels = KFold(folds, shuffle=True, random_state=seed), None
    result = []
    for rest, test in splitter.split(np.zeros(len(dataset)), labels):
        train, held = _carve(dataset.select(sorted(rest)), label_column, validation, seed, "validation")
        result.append({"train": train, "validation": held, "test": dataset.select(sorted(test))})
    return result


def class_column(task: Task) -> str | None:
    """The column of a single-label task's class (per-class subsampling, imbalance, generators)."""
    return task.label_column if task.label_kind == "single-label" else None


def stratify_column(task: Task) -> str | None:
    """The column splits are stratified by: the class, unless the task turns stratification off."""
    return class_column(task) if task.stratify else None


def restrict_training(train: Any, label_column: str | None, options: Mapping[str, Any], seed: int,
                      console: Any = None) -> Any:
    """The training split after ``data.per_class`` and ``data.imbalance`` (validation and test stay whole).

    ``options`` are the ``data.*`` options; ``label_column`` is the class column (:func:`class_column`).
    """
    if options.get("per_class"):
        train, short = subsample_per_class(train, label_column, options["per_class"], seed)
        if short and console is not None:
            from rich.markup import escape

            console.print(f"[yellow]data.per_class={options['per_class']}:[/] labels with fewer training clips "
                          f"keep them all ({escape(', '.join(short))})")
    if options.get("imbalance", 1.0) > 1.0:
        train = imbalance(train, label_column, options["imbalance"], seed)
    return train
