"""Dataset ``audiofolder``: one sub-folder per label (the GTZAN layout).

Optionally under ``train/``, ``validation/`` and ``test/`` split folders, as in the
Hugging Face audiofolder convention; predefined splits are then used as given::

    DIR/blues/blues.00000.wav             DIR/train/blues/a.wav
    DIR/rock/rock.00000.mp3        or     DIR/validation/blues/b.flac
                                          DIR/test/rock/c.ogg
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mirplug import AUDIO_EXTENSIONS, DataError

SPLIT_FOLDERS = {"train": "train", "training": "train", "validation": "validation", "valid": "validation",
                 "val": "validation", "dev": "validation", "test": "test", "testing": "test", "eval": "test"}


def _audio_files(folder: Path) -> list[Path]:
    """Audio files under ``folder``, following symbolic links, plus the links that lead nowhere.

    A linked class folder (``DIR/rock -> /elsewhere/rock``) is followed like a real one. A link
    that cannot be followed is returned too, so that the run reports it in ``skipped.csv`` with
    the reason instead of dropping it without a word: a dangling link (its target is gone), and
    a link to a folder above it (a loop, which is not entered; only files directly in it count).
    """
    found: list[Path] = []
    _walk(folder, {_identity(folder)}, found)
    return sorted(found)


def _identity(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_dev, status.st_ino


def _walk(folder: Path, ancestors: set[tuple[int, int]], found: list[Path]) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:
        return
    for entry in entries:
        path = Path(entry.path)
        try:
            is_dir, is_file = entry.is_dir(), entry.is_file()  # both follow links
        except OSError:  # a link loop of links (a -> b -> a)
            is_dir = is_file = False
        if is_dir:
            identity = _identity(path)
            if identity in ancestors:
                found.append(path)  # a loop: reported as it is, not entered
            else:
                _walk(path, ancestors | {identity}, found)
        elif is_file:
            if path.suffix.lower() in AUDIO_EXTENSIONS:
                found.append(path)
        elif entry.is_symlink() and (path.suffix.lower() in AUDIO_EXTENSIONS or not path.suffix):
            found.append(path)  # dangling, or a loop of links: an audio file (or a folder of them) was meant


def _rows(root: Path, folder: Path) -> list[tuple[str, str, str]]:
    """(path, label, id) for every audio file under a class sub-folder of ``folder``."""
    rows = []
    for path in _audio_files(folder):
        relative = path.relative_to(folder)
        if len(relative.parts) < 2:
            continue  # a file directly in the folder has no label
        rows.append((str(path), relative.parts[0], str(path.relative_to(root))))
    return rows


def folder_dataset(rows: list[tuple[str, str, str]], labels: list[str], extra: dict[str, list[Any]] | None = None) -> Any:
    """A ``datasets.Dataset`` with ``audio`` (not decoded), ``label`` (ClassLabel) and ``id``."""
    import datasets

    # datasets' Audio encoder needs torchcodec even for paths: build a plain struct, then cast.
    features = datasets.Features({
        "audio": {"bytes": datasets.Value("binary"), "path": datasets.Value("string")},
        "label": datasets.ClassLabel(names=labels),
        "id": datasets.Value("string"),
    })
    columns: dict[str, list[Any]] = {
        "audio": [{"path": path, "bytes": None} for path, _, _ in rows],
        "label": [labels.index(label) for _, label, _ in rows],
        "id": [row_id for _, _, row_id in rows],
    }
    dataset = datasets.Dataset.from_dict(columns, features=features).cast_column("audio", datasets.Audio(decode=False))
    for name, values in (extra or {}).items():
        dataset = dataset.add_column(name, values)
    return dataset


def load(path: str | None = None, task: str = "genre", **_: Any) -> Any:
    """Load ``path`` as a Dataset, or a DatasetDict when it has split folders."""
    import datasets

    if not path:
        raise DataError("data=audiofolder needs a folder: add data.path=DIR (one sub-folder per label)")
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(f"data.path={path}: no such folder")
    splits = {SPLIT_FOLDERS[p.name.lower()]: p for p in sorted(root.iterdir())
              if p.is_dir() and p.name.lower() in SPLIT_FOLDERS}
    if splits:
        if "train" not in splits:
            raise DataError(f"{root} has split folders {sorted(splits)} but no train/ folder")
        split_rows = {name: _rows(root, folder) for name, folder in splits.items()}
        labels = sorted({label for rows in split_rows.values() for _, label, _ in rows})
        _check(root, [row for rows in split_rows.values() for row in rows], labels)
        return datasets.DatasetDict({name: folder_dataset(rows, labels) for name, rows in split_rows.items()})
    rows = _rows(root, root)
    labels = sorted({label for _, label, _ in rows})
    _check(root, rows, labels)
    return folder_dataset(rows, labels)


def _check(root: Path, rows: list[tuple[str, str, str]], labels: list[str]) -> None:
    if not rows:
        found = len(_audio_files(root))
        raise DataError(
            f"{root} holds no audio in label sub-folders (found {found} audio file(s) at the top level); "
            f"expected DIR/<label>/<clip>.{{wav,flac,ogg,mp3}}"
        )
    if len(labels) < 2:
        raise DataError(f"{root} has a single label '{labels[0]}' ({len(rows)} clips); a classifier needs two or more")
