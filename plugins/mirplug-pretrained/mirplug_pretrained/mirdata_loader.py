"""``data=mirdata``: a local copy of a mirdata dataset as a ``datasets.Dataset`` for one mirplug task.

mirdata (1.0) finds a dataset's files through its index, a JSON file kept inside the mirdata package
(``mirdata/datasets/indexes/<name>_index_<version>.json``) and fetched from Zenodo by
``Dataset.download()``; the audio and annotations live under ``data_home``. Nothing is downloaded
unless ``data.download=true``; a missing index is one error line naming the file and the way to get it.

Each row: ``audio`` (the track's audio path), ``id`` (mirdata's track id) and the task's column:
``label`` for genre/key/instrument (a ClassLabel), ``tags`` for tagging, ``beats`` for beats. Tracks
without the annotation or whose audio file is missing are left out (counted in a warning). With
``data.split=official`` a dataset with an official split comes back as a ``DatasetDict``:

* gtzan_genre: the fault-filtered split of Kereliuk, Sturm and Larsen (2015) that MARBLE and HEAR
  report on, taken from the lists torchaudio ships (``torchaudio.datasets.gtzan``); tracks outside
  it are left out;
* mtg_jamendo_autotagging_moodtheme: its ``split-<data.split_number>``;
* medley_solos_db: its training/validation/test subsets.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mirplug import DataError
from mirplug_pretrained.mirdata_tasks import DATASETS, mapping_text

SHARPS = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FLATS = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#", "Cb": "B", "Fb": "E", "E#": "F", "B#": "C"}
KEY_PATTERN = re.compile(r"^\s*([A-Ga-g])\s*([#b♯♭]?)\s*:?\s*(major|minor|maj|min)\s*$", re.IGNORECASE)
SPLIT_NAMES = {"train": "train", "training": "train", "validation": "validation", "valid": "validation",
               "test": "test"}


def normalise_key(text: Any) -> str | None:
    """``'Db major'``, ``'c# min'`` -> ``'C# major'`` (sharps; the names the key task uses); else None."""
    if not isinstance(text, str):
        return None
    match = KEY_PATTERN.match(text.replace("♯", "#").replace("♭", "b"))
    if match is None:
        return None
    tonic = match.group(1).upper() + match.group(2)
    tonic = FLATS.get(tonic, tonic)
    if tonic not in SHARPS:
        return None
    return f"{tonic} {'major' if match.group(3).lower().startswith('maj') else 'minor'}"


def _key(track: Any) -> str | None:
    value = track.key
    if isinstance(value, (list, tuple)):  # beatport_key: every key annotated; only one-key tracks count
        keys = {normalise_key(item) for item in value}
        return keys.pop() if len(keys) == 1 else None
    return normalise_key(value)


def _beats(track: Any) -> list[float] | None:
    beats = track.beats
    if beats is None or getattr(beats, "times", None) is None or len(beats.times) == 0:
        return None
    return sorted(float(time) for time in beats.times)


def _tags(track: Any) -> list[str] | None:
    tags = [str(tag) for tag in (track.tags or [])]
    return tags or None


def _text(attribute: str) -> Callable[[Any], str | None]:
    def read(track: Any) -> str | None:
        value = getattr(track, attribute, None)
        return str(value) if value not in (None, "") else None

    return read


# (dataset, task) -> the task's value for one track, or None when the track has no such annotation
EXTRACTORS: dict[tuple[str, str], Callable[[Any], Any]] = {
    ("ballroom", "genre"): _text("genre"),
    ("ballroom", "beats"): _beats,
    ("beatles", "beats"): _beats,
    ("beatport_key", "key"): _key,
    ("giantsteps_key", "key"): _key,
    ("gtzan_genre", "genre"): _text("genre"),
    ("gtzan_genre", "beats"): _beats,
    ("medley_solos_db", "instrument"): _text("instrument"),
    ("mtg_jamendo_autotagging_moodtheme", "tagging"): _tags,
}


def gtzan_fault_filtered() -> dict[str, list[str]] | None:
    """The fault-filtered GTZAN split as torchaudio ships it (track ids such as ``blues.00029``), or None."""
    try:
        from torchaudio.datasets import gtzan
    except Exception:  # torchaudio without its datasets: no official split to offer
        return None
    return {"train": list(gtzan.filtered_train), "validation": list(gtzan.filtered_valid),
            "test": list(gtzan.filtered_test)}


def open_dataset(name: str, home: str, version: str, download: bool) -> Any:
    """mirdata's Dataset for ``name`` in ``home``; its index must be there (or ``download``)."""
    import mirdata

    try:
        dataset = mirdata.initialize(name, data_home=home, version=version)
    except ValueError as exc:
        raise DataError(f"data.name={name} data.version={version}: {exc}") from None
    index = Path(dataset.index_path)
    if download:
        try:
            dataset.download()
        except Exception as exc:
            raise DataError(f"mirdata could not download {name} into {home} ({type(exc).__name__}: {exc}); "
                            "download it as its documentation says and run again without data.download") from None
    if not index.is_file():
        remote = getattr(dataset._index_data, "remote", None)
        source = f" (mirdata fetches it from {remote.url})" if remote is not None else ""
        raise DataError(f"mirdata's index of {name} is missing: {index}{source}; add data.download=true to let "
                        f"mirdata download the index and the dataset into {home}, or put the index file there")
    return dataset


def load(name: str | None = None, home: str | None = None, version: str = "default", download: bool = False,
         split: str = "official", split_number: int = 0, task: str = "genre", **_: Any) -> Any:
    """The rows of ``name`` that carry ``task``'s annotation (a DatasetDict for an official split)."""
    import datasets

    if not name:
        raise DataError(f"data=mirdata needs data.name=NAME; mapped datasets: {mapping_text()}")
    if name not in DATASETS:
        raise DataError(f"data.name={name} is not mapped to a mirplug task; mapped datasets: {mapping_text()}")
    tasks = DATASETS[name][0]
    if task not in tasks:
        raise DataError(f"data.name={name} has annotations for task {' or '.join(tasks)}, not task={task}")
    if not home:
        raise DataError(f"data=mirdata needs data.home=DIR, the folder holding {name} (mirdata's data_home)")
    folder = Path(home).expanduser()
    if not folder.is_dir() and not download:
        raise DataError(f"data.home={home}: no such folder (data.download=true lets mirdata download {name} there)")
    dataset = open_dataset(name, str(folder), version, download)
    extract = EXTRACTORS[(name, task)]
    rows: list[tuple[str, str, Any]] = []
    tracks: dict[str, Any] = {}
    no_audio = no_annotation = 0
    for track_id in dataset.track_ids:
        track = dataset.track(track_id)
        audio = getattr(track, "audio_path", None)
        if not audio or not Path(audio).is_file():
            no_audio += 1
            continue
        value = extract(track)
        if value is None:
            no_annotation += 1
            continue
        rows.append((track_id, audio, value))
        tracks[track_id] = track
    if no_audio or no_annotation:
        warnings.warn(f"data=mirdata {name}: left out {no_audio} track(s) whose audio is not in {folder} and "
                      f"{no_annotation} without a {task} annotation", stacklevel=2)
    if not rows:
        raise DataError(f"data=mirdata {name}: no track in {folder} has both its audio and a {task} annotation "
                        f"({no_audio} without audio, {no_annotation} without annotation)")
    assignment = None
    if split == "official":
        assignment = _official_split(name, [row[0] for row in rows], tracks, dataset, split_number)
    if assignment is None:
        return _table(rows, task)
    # tracks outside the official split (e.g. GTZAN's faulty clips) are not part of the data at all
    outside = sum(1 for track_id, _, _ in rows if track_id not in assignment)
    rows = [row for row in rows if row[0] in assignment]
    if outside:
        warnings.warn(f"data=mirdata {name}: left out {outside} track(s) outside its official split "
                      "(data.split=random keeps them)", stacklevel=2)
    table = _table(rows, task)
    chosen = {part: [i for i, (track_id, _, _) in enumerate(rows) if assignment[track_id] == part]
              for part in ("train", "validation", "test")}
    if not chosen["train"]:
        raise DataError(f"data=mirdata {name}: no track of its official training split is in {folder}; "
                        "use data.split=random")
    return datasets.DatasetDict({part: table.select(indices) for part, indices in chosen.items() if indices})


def _table(rows: list[tuple[str, str, Any]], task: str) -> Any:
    import datasets

    columns: dict[str, list[Any]] = {"audio": [{"path": audio, "bytes": None} for _, audio, _ in rows],
                                     "id": [track_id for track_id, _, _ in rows]}
    features: dict[str, Any] = {"audio": {"bytes": datasets.Value("binary"), "path": datasets.Value("string")},
                                "id": datasets.Value("string")}
    values = [value for _, _, value in rows]
    if task == "beats":
        columns["beats"] = values
        features["beats"] = datasets.List(datasets.Value("float64"))
    elif task == "tagging":
        names = sorted({tag for tags in values for tag in tags})
        columns["tags"] = [sorted({names.index(tag) for tag in tags}) for tags in values]
        features["tags"] = datasets.List(datasets.ClassLabel(names=names))
    else:
        names = sorted(set(values))
        columns["label"] = [names.index(value) for value in values]
        features["label"] = datasets.ClassLabel(names=names)
    table = datasets.Dataset.from_dict(columns, features=datasets.Features(features))
    return table.cast_column("audio", datasets.Audio(decode=False))


def _official_split(name: str, track_ids: list[str], tracks: dict[str, Any], dataset: Any,
                    split_number: int) -> dict[str, str] | None:
    """track id -> train/validation/test for datasets with an official split; None for the others."""
    if name == "gtzan_genre":
        lists = gtzan_fault_filtered()
        if lists is None:
            warnings.warn("data=mirdata gtzan_genre: torchaudio's fault-filtered lists are not available; "
                          "splitting at random", stacklevel=3)
            return None
        return {track_id: part for part, ids in lists.items() for track_id in ids}
    if name == "mtg_jamendo_autotagging_moodtheme":
        try:
            parts = dataset.get_track_splits(split_number)
        except FileNotFoundError as exc:
            raise DataError(f"data=mirdata {name}: its split files are missing under {dataset.data_home} ({exc})") from None
        return {track_id: SPLIT_NAMES[part] for part, ids in parts.items() for track_id in ids}
    if name == "medley_solos_db":
        return {track_id: SPLIT_NAMES.get(str(tracks[track_id].subset), "train") for track_id in track_ids}
    return None
