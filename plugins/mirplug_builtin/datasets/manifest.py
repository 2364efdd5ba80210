"""Dataset ``manifest``: a CSV or JSONL file of audio paths plus label columns.

Paths are relative to the manifest file. Recognised columns::

    path,label                 single-label tasks (genre, instrument, key)
    path,tags                  tagging; tags joined by data.tag_separator (default ';')
    path,valence,arousal       mood (any numeric columns)
    path,annotation            event tasks (beats, onsets): a text file of event times in seconds,
                               one per line (first column), relative to the manifest; read into 'beats'
    ...,split                  optional: train/validation/test rows are used as given
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from mirplug import DataError
from mirplug_builtin.datasets.audiofolder import SPLIT_FOLDERS


def _read_rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        rows = []
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}:{number} is not valid JSON: {exc.msg}") from None
        return rows
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _events(manifest: Path, value: str) -> list[float]:
    annotation = (manifest.parent / value).expanduser()
    if not annotation.is_file():
        raise DataError(f"{manifest}: annotation file {value} not found (paths are relative to the manifest)")
    times = []
    for number, line in enumerate(annotation.read_text().splitlines(), start=1):
        fields = line.replace(",", " ").split()
        if not fields or fields[0].startswith("#"):
            continue
        try:
            times.append(float(fields[0]))
        except ValueError:
            raise DataError(f"{annotation}:{number}: '{fields[0]}' is not a time in seconds") from None
    return sorted(times)


def load(path: str | None = None, tag_separator: str = ";", events_column: str = "beats", task: str = "genre",
         **_: Any) -> Any:
    """Load the manifest as a Dataset (or a DatasetDict when it has a ``split`` column)."""
    import datasets

    if not path:
        raise DataError("data=manifest needs a file: add data.path=FILE.csv (or .jsonl) with a 'path' column")
    manifest = Path(path).expanduser()
    if not manifest.is_file():
        raise DataError(f"data.path={path}: no such file")
    rows = _read_rows(manifest)
    if not rows:
        raise DataError(f"{manifest} has no rows")
    if "path" not in rows[0]:
        raise DataError(f"{manifest} has no 'path' column; its columns are: {', '.join(rows[0])}")
    columns = list(rows[0])
    data: dict[str, list[Any]] = {
        "audio": [{"path": str((manifest.parent / str(r["path"])).expanduser()), "bytes": None} for r in rows],
        "id": [str(r["path"]) for r in rows],
    }
    features: dict[str, Any] = {"audio": {"bytes": datasets.Value("binary"), "path": datasets.Value("string")},
                                "id": datasets.Value("string")}
    for column in columns:
        values = [r.get(column) for r in rows]
        if column in ("path", "split"):
            continue
        if column == "label":
            names = sorted({str(v) for v in values})
            data["label"] = [names.index(str(v)) for v in values]
            features["label"] = datasets.ClassLabel(names=names)
        elif column == "tags":
            lists = [v if isinstance(v, list) else [t.strip() for t in str(v or "").split(tag_separator) if t.strip()]
                     for v in values]
            names = sorted({t for tags in lists for t in tags})
            data["tags"] = [[names.index(t) for t in tags] for tags in lists]
            features["tags"] = datasets.List(datasets.ClassLabel(names=names))
        elif column == "annotation":
            data[events_column] = [_events(manifest, str(v)) for v in values]
            features[events_column] = datasets.List(datasets.Value("float64"))
        else:
            try:
                data[column] = [float(v) for v in values]  # type: ignore[arg-type]
                features[column] = datasets.Value("float64")
            except (TypeError, ValueError):
                data[column] = [str(v) for v in values]
                features[column] = datasets.Value("string")
    dataset = datasets.Dataset.from_dict(data, features=datasets.Features(features))
    dataset = dataset.cast_column("audio", datasets.Audio(decode=False))
    if "split" not in columns:
        return dataset
    splits: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        name = SPLIT_FOLDERS.get(str(row["split"]).lower())
        if name is None:
            raise DataError(f"{manifest} row {index + 1}: split '{row['split']}' is not train, validation or test")
        splits.setdefault(name, []).append(index)
    return datasets.DatasetDict({name: dataset.select(indices) for name, indices in splits.items()})
