"""``mirplug augment``: write an augmented dataset (``save_to_disk``) with per-row provenance.

The dataset is loaded and split exactly as ``mirplug run`` does (same seed -> same split).
The ``train`` split gets the real clips plus, per chosen augmenter,

* generators (``vae``, ``gan``): fitted on the training split and sampled by
  :func:`mirplug.generation.synthesize`, exactly as in ``mirplug run`` (``augmenter.per_class`` /
  ``balance`` / ``filter_confidence``); rows have ``synthetic=True``, an empty ``source_id`` and
  the checkpoint's sha256 in ``generator_hash``; checkpoints, ``quality.json`` and spectrogram
  grids stay in ``DIR/generation/``;
* waveform transforms (``gain``, ``noise``, ``timeshift``): one transformed copy of every
  real training clip the chain changed; ``source_id`` names the original clip and
  ``augmenter_params`` records the drawn parameters and the seed.

``validation`` and ``test`` hold the real clips only. Audio bytes are embedded (WAV for new
audio, the original file's bytes for real clips), so the folder is self-contained and can be
pushed with ``mirplug push``. ``mirplug_provenance.json`` beside it records how it was made.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape

from mirplug import __version__
from mirplug.catalog import Catalog
from mirplug.components import Generator, Transform
from mirplug.config import RunConfig
from mirplug.data import SPLITS, class_column, restrict_training, split_dataset, stratify_column
from mirplug.errors import ConfigError, DataError
from mirplug.specs import AugmenterSpec

PROVENANCE_FILE = "mirplug_provenance.json"
QUALITY_FILE = "quality.json"


@dataclass
class Row:
    """One row of the augmented dataset before it becomes Arrow."""

    audio: dict[str, Any]
    label: int
    id: str
    synthetic: bool = False
    source_id: str = ""
    augmenter: str = ""
    augmenter_params: str = ""
    generator_hash: str = ""


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """Mono float samples -> 16-bit PCM WAV bytes (peaks clipped to [-1, 1])."""
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0), sample_rate,
                    format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def cell_bytes(cell: dict[str, Any], where: str) -> tuple[bytes, str]:
    """The encoded bytes and a file name of an undecoded audio cell (embedding path-only cells)."""
    data, path = cell.get("bytes"), cell.get("path") or ""
    if data:
        return bytes(data), Path(path).name or f"{where}.wav"
    if path and Path(path).is_file():
        return Path(path).read_bytes(), Path(path).name
    raise DataError(f"clip {where}: its audio cell has no bytes and no readable file ({path or 'no path'})")


def native_rate(data: bytes) -> int:
    """The sample rate of encoded audio bytes."""
    import soundfile

    try:
        return int(soundfile.info(io.BytesIO(data)).samplerate)
    except Exception as exc:
        raise DataError(f"cannot read the sample rate of a training clip: {exc}") from None


def build_transforms(catalog: Catalog, config: RunConfig) -> list[tuple[str, AugmenterSpec, Transform]]:
    """(name, spec, transform) for every chosen waveform transform; feature-stage transforms are refused."""
    from mirplug.build import build_transforms as run_transforms

    built = []
    for selection in config.augmenters:
        if getattr(catalog.get("augmenter", selection.name), "stage", None) == "embeddings":
            raise ConfigError(f"augmenter '{selection.name}' adds embedding rows of a frozen backbone, not audio; "
                              f"use it with mirplug run (or sweep, ablate): mirplug augment writes audio")
    for name, transform in run_transforms(catalog, config):
        spec = catalog.get("augmenter", name)
        assert isinstance(spec, AugmenterSpec)
        if transform.stage != "waveform":
            raise ConfigError(f"augmenter '{name}' works on {transform.stage}; mirplug augment writes audio "
                              f"and takes generators (vae, gan) and waveform transforms (gain, noise, pitch_shift, ...)")
        built.append((name, spec, transform))
    return built


def augment(config: RunConfig, catalog: Catalog, out: Path, console: Console | None = None) -> Path:
    """Write the augmented DatasetDict into ``out`` (plus provenance and quality); return ``out``.

    The training split is prepared as ``mirplug run`` prepares it (split, ``data.per_class``,
    ``data.imbalance``), and generators go through :func:`mirplug.generation.synthesize`, so the
    synthetic rows are those a run with the same config trains on.
    """
    import datasets

    from mirplug.build import build_generators, build_task

    console = console or Console(stderr=True)
    datasets.disable_progress_bars()  # mirplug prints its own summary lines
    started = time.time()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"out={out} is a file; give the folder the augmented dataset is saved to")
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"out={out}: the folder exists and is not empty; choose a new folder")
    task = build_task(catalog, config)
    if task.label_kind != "single-label" or not task.label_column:
        raise ConfigError(f"task '{config.task.name}' has {task.label_kind} labels; mirplug augment writes "
                          f"single-label (ClassLabel) datasets")
    generators = build_generators(catalog, config)
    transforms = build_transforms(catalog, config)
    if not generators and not transforms:
        raise ConfigError("mirplug augment needs an augmenter, e.g. augmenter=vae augmenter.per_class=50 "
                          "or augmenter=gain,noise")
    splits, names, predefined = training_splits(catalog, config, task, console)
    rows: dict[str, list[Row]] = {split: real_rows(splits[split], task.label_column, split) for split in SPLITS}
    chain, quality = augmented_rows(catalog, config, generators, transforms, splits, names, task.label_column, rows,
                                    out, console)
    save_dataset(out, rows, names)
    data_spec = catalog.get("dataset", config.data.name)
    provenance = {
        "mirplug_version": __version__,
        "created_seconds": round(time.time() - started, 2),
        "task": config.task.name,
        "source": {"dataset": config.data.name, "options": config.data.options, "license": data_spec.license,
                   "citation": data_spec.citation, "predefined_splits": predefined},
        "split": {"seed": config.seed, "validation": config.split["validation"], "test": config.split["test"]},
        "labels": list(names),
        "augmentation": chain,
        "counts": counts(rows, names),
        "quality": quality,
        "config": config.to_dict(),
    }
    (out / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2, sort_keys=True, default=str))
    (out / QUALITY_FILE).write_text(json.dumps(quality, indent=2, sort_keys=True, default=str))
    console.print(escape(f"wrote {out} ({', '.join(f'{s}: {len(r)} rows' for s, r in rows.items())})"), highlight=False)
    return out


def training_splits(catalog: Catalog, config: RunConfig, task: Any,
                    console: Console) -> tuple[dict[str, Any], list[str], bool]:
    """The same splits and training subset as ``mirplug run`` with this config and seed; the label names and
    whether the dataset came split."""
    import datasets

    from mirplug.build import load_dataset

    dataset = load_dataset(catalog, config)
    predefined = isinstance(dataset, datasets.DatasetDict)
    names = task.label_names(dataset["train"] if predefined else dataset)
    splits = split_dataset(dataset, stratify_column(task), config.split["validation"], config.split["test"],
                           config.seed)
    splits["train"] = restrict_training(splits["train"], class_column(task), config.data.options, config.seed,
                                        console)
    return splits, names, predefined


def augmented_rows(catalog: Catalog, config: RunConfig, generators: list[tuple[str, Generator]],
                   transforms: list[tuple[str, AugmenterSpec, Transform]], splits: dict[str, Any], names: list[str],
                   label_column: str, rows: dict[str, list[Row]], out: Path,
                   console: Console) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Add the synthetic and transformed training rows to ``rows["train"]``; the augmentation chain (one entry
    per augmenter, for the provenance) and the generators' quality reports."""
    train_real = list(rows["train"])
    selections = {selection.name: dict(selection.options) for selection in config.augmenters}
    chain: list[dict[str, Any]] = []
    quality: list[dict[str, Any]] = []
    if generators:
        new, quality = generate(generators, splits, names, label_column, config, out / "generation", console, catalog)
        rows["train"].extend(new)
        for (name, generator), report in zip(generators, quality):
            spec = catalog.get("augmenter", name)
            chain.append({"augmenter": name, "kind": "generator", "stage": "generator", "options": selections[name],
                          "license": spec.license, "architecture": report["architecture"],
                          "checkpoint_hash": report["checkpoint_hash"], "seed": config.seed,
                          "training_steps": (report.get("training") or {}).get("steps"),
                          "training_clips": len(train_real), "sampled": report.get("sampled"),
                          "rows": report.get("kept")})
    sample_rate = native_rate(train_real[0].audio["bytes"])
    for position, (name, spec, transform) in enumerate(transforms):
        new = transform_copies(name, transform, train_real, sample_rate, config.seed, position)
        rows["train"].extend(new)
        chain.append({"augmenter": name, "kind": "transform", "stage": spec.stage, "options": selections[name],
                      "license": spec.license, "class": f"{type(transform).__module__}:{type(transform).__qualname__}",
                      "seed": [config.seed, position, "row index"], "sample_rate": sample_rate, "rows": len(new)})
        console.print(escape(f"{name}: {len(new)} transformed copies of the {len(train_real)} real training clips"),
                      highlight=False)
    return chain, quality


def save_dataset(out: Path, rows: dict[str, list[Row]], names: list[str]) -> None:
    """Save the rows of every split as a DatasetDict with the provenance columns into ``out``."""
    import datasets

    features = datasets.Features({
        "audio": {"bytes": datasets.Value("binary"), "path": datasets.Value("string")},
        "label": datasets.ClassLabel(names=list(names)),
        "id": datasets.Value("string"),
        "synthetic": datasets.Value("bool"),
        "source_id": datasets.Value("string"),
        "augmenter": datasets.Value("string"),
        "augmenter_params": datasets.Value("string"),
        "generator_hash": datasets.Value("string"),
    })
    # datasets' Audio encoder needs torchcodec: build a plain struct, then cast (bytes stay as they are).
    result = datasets.DatasetDict({
        split: datasets.Dataset.from_dict(
            {column: [getattr(row, column) for row in split_rows] for column in features}, features=features
        ).cast_column("audio", datasets.Audio(decode=False))
        for split, split_rows in rows.items()
    })
    out.mkdir(parents=True, exist_ok=True)
    result.save_to_disk(str(out))


def generate(generators: list[tuple[str, Generator]], splits: dict[str, Any], names: list[str], label_column: str,
             config: RunConfig, work: Path, console: Console,
             catalog: Catalog | None = None) -> tuple[list[Row], list[dict[str, Any]]]:
    """Synthetic training rows (audio embedded) and one quality report per generator.

    :func:`mirplug.generation.synthesize` writes the checkpoints, the quality report and
    spectrogram grids into ``work``; its WAV files are deleted once their bytes are embedded.
    """
    import shutil

    from mirplug.generation import LOGMEL_FEATURES, fad_embedder, synthesize

    embedder = fad_embedder(catalog, config) if catalog is not None else (None, LOGMEL_FEATURES)
    augmented, reports = synthesize(generators, splits["train"], splits["test"], names, label_column,
                                    config.data.options["clip_seconds"], work, config.seed, console, embedder,
                                    max_seconds=config.data.options["max_seconds"])
    new = []
    flags = augmented["synthetic"]
    for index in (i for i, flag in enumerate(flags) if flag):
        row = augmented.with_format(None)[index]
        data, file_name = cell_bytes(row["audio"] or {}, str(row["id"]))
        new.append(Row(audio={"bytes": data, "path": file_name}, label=int(row[label_column]), id=str(row["id"]),
                       synthetic=True, source_id="", augmenter=str(row["augmenter"]),
                       augmenter_params=str(row["augmenter_params"]), generator_hash=str(row["generator_hash"])))
    shutil.rmtree(work / "synthetic", ignore_errors=True)
    for report in reports:
        console.print(escape(f"{report['augmenter']}: {report['kept']} synthetic clips (of {report['sampled']} sampled)"),
                      highlight=False)
    return new, reports


def real_rows(split: Any, label_column: str, split_name: str) -> list[Row]:
    """Rows of a split's real clips with their encoded bytes embedded."""
    cells = split.with_format(None)["audio"]
    labels = split[label_column]
    ids = split["id"] if "id" in split.column_names else [f"{split_name}-{i}" for i in range(len(split))]
    result = []
    for cell, label, row_id in zip(cells, labels, ids):
        data, file_name = cell_bytes(cell or {}, str(row_id))
        result.append(Row(audio={"bytes": data, "path": file_name}, label=int(label), id=str(row_id)))
    return result


def transform_copies(name: str, transform: Transform, real: list[Row], sample_rate: int, seed: int,
                     position: int) -> list[Row]:
    """One transformed copy of every real clip the transform changed (it is applied with probability ``p``)."""
    import torch

    from mirplug.audio import decode

    new = []
    transform.prepare(sample_rate)
    for index, row in enumerate(real):
        # The same seed triple as the row's recorded params: rerunning reproduces every copy exactly.
        row_seed = [seed, position, index]
        samples = torch.from_numpy(decode(row.audio, sample_rate).samples)
        changed, params = transform(samples, np.random.default_rng(row_seed))
        if params is None:
            continue
        new.append(Row(
            audio={"bytes": wav_bytes(changed.numpy(), sample_rate), "path": f"{name}-{Path(row.id).stem}.wav"},
            label=row.label, id=f"{name}:{row.id}", synthetic=True, source_id=row.id, augmenter=name,
            augmenter_params=json.dumps({"params": params, "seed": row_seed, "sample_rate": sample_rate},
                                        sort_keys=True, default=float)))
    return new


def counts(rows: dict[str, list[Row]], names: list[str]) -> dict[str, dict[str, dict[str, int]]]:
    """Real and synthetic row counts per split and class."""
    result: dict[str, dict[str, dict[str, int]]] = {}
    for split, split_rows in rows.items():
        table = {name: {"real": 0, "synthetic": 0} for name in names}
        for row in split_rows:
            table[names[row.label]]["synthetic" if row.synthetic else "real"] += 1
        result[split] = table
    return result
