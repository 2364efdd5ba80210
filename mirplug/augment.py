"""``mirplug augment``: write an augmented dataset (``save_to_disk``) with per-row provenance.

The dataset is loaded and split exactly as ``mirplug run`` does (same seed -> same split).
The ``train`` split gets the real clips plus, per chosen augmenter,

* generators (``vae``, ``gan``): fitted on the training windows, then sampled
  (``augmenter.per_class`` / ``balance``); rows have ``synthetic=True``, an empty
  ``source_id`` and the checkpoint's sha256 in ``generator_hash``;
* waveform transforms (``gain``, ``noise``, ``timeshift``): one transformed copy of every
  real training clip the chain changed; ``source_id`` names the original clip and
  ``augmenter_params`` records the drawn parameters and the seed.

``validation`` and ``test`` hold the real clips only. Audio bytes are embedded (WAV for new
audio, the original file's bytes for real clips), so the folder is self-contained and can be
pushed with ``mirplug push``. ``mirplug_provenance.json`` beside it records how it was made.
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

from mirplug import __version__
from mirplug.catalog import Catalog
from mirplug.components import Generator, Transform
from mirplug.config import RunConfig
from mirplug.data import SPLITS, split_dataset
from mirplug.errors import ConfigError, DataError
from mirplug.specs import AugmenterSpec

PROVENANCE_FILE = "mirplug_provenance.json"
QUALITY_FILE = "quality.json"
PROVENANCE_COLUMNS = ("synthetic", "source_id", "augmenter", "augmenter_params", "generator_hash")
# Features for the quality report: mean and standard deviation over time of a 64-band log-mel.
QUALITY_MELS = 64


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


def build_augmenters(catalog: Catalog, config: RunConfig) -> list[tuple[str, AugmenterSpec, Any]]:
    """(name, spec, built component) for every chosen augmenter; feature-stage transforms are refused."""
    built = []
    for selection in config.augmenters:
        spec = catalog.get("augmenter", selection.name)
        assert isinstance(spec, AugmenterSpec)
        component = spec.build(selection.options)
        if spec.stage == "features" or not isinstance(component, (Generator, Transform)):
            raise ConfigError(f"augmenter '{selection.name}' works on features ({spec.stage}); mirplug augment writes "
                              f"audio and takes generators (vae, gan) and waveform transforms (gain, noise, timeshift)")
        built.append((selection.name, spec, component))
    if not built:
        raise ConfigError("mirplug augment needs an augmenter, e.g. augmenter=vae augmenter.per_class=50 "
                          "or augmenter=gain,noise")
    return built


def augment(config: RunConfig, catalog: Catalog, out: Path, console: Console | None = None) -> Path:
    """Write the augmented DatasetDict into ``out`` (plus provenance and quality); return ``out``."""
    import datasets

    from mirplug.runner import build_task, load_dataset

    console = console or Console(stderr=True)
    datasets.disable_progress_bars()  # mirplug prints its own summary lines
    started = time.time()
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"out={out}: the folder exists and is not empty; choose a new folder")
    task = build_task(catalog, config)
    if task.label_kind != "single-label":
        raise ConfigError(f"task '{config.task.name}' has {task.label_kind} labels; mirplug augment writes "
                          f"single-label (ClassLabel) datasets")
    augmenters = build_augmenters(catalog, config)
    dataset = load_dataset(catalog, config)
    predefined = isinstance(dataset, datasets.DatasetDict)
    names = task.label_names(dataset["train"] if predefined else dataset)
    label_column = task.label_column
    splits = split_dataset(dataset, label_column, config.split["validation"], config.split["test"], config.seed)

    rows: dict[str, list[Row]] = {split: real_rows(splits[split], label_column, split) for split in SPLITS}
    train_real = list(rows["train"])
    sample_rate = native_rate(train_real[0].audio["bytes"])
    chain: list[dict[str, Any]] = []
    quality: dict[str, Any] = {}
    for position, (name, spec, component) in enumerate(augmenters):
        if isinstance(component, Generator):
            new, record, scores = generate(name, component, splits["train"], label_column, names, sample_rate,
                                           config, out / "generators" / name, position, console)
            quality[name] = scores
        else:
            new, record = transform_copies(name, component, train_real, sample_rate, config.seed, position)
        record.update({"augmenter": name, "stage": spec.stage, "options": dict(config.augmenters[position].options),
                       "license": spec.license, "rows": len(new)})
        chain.append(record)
        rows["train"].extend(new)
        console.print(f"{name}: {len(new)} new training rows")

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
    data_spec = catalog.get("dataset", config.data.name)
    provenance = {
        "mirplug_version": __version__,
        "created_seconds": round(time.time() - started, 2),
        "task": config.task.name,
        "source": {"dataset": config.data.name, "options": config.data.options, "license": data_spec.license,
                   "citation": data_spec.citation, "predefined_splits": predefined},
        "split": {"seed": config.seed, "validation": config.split["validation"], "test": config.split["test"]},
        "sample_rate": sample_rate,
        "labels": list(names),
        "augmentation": chain,
        "counts": counts(rows, names),
        "quality": quality,
        "config": config.to_dict(),
    }
    (out / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2, sort_keys=True, default=str))
    (out / QUALITY_FILE).write_text(json.dumps(quality, indent=2, sort_keys=True))
    console.print(f"wrote {out} ({', '.join(f'{s}: {len(r)} rows' for s, r in rows.items())})")
    return out


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
                     position: int) -> tuple[list[Row], dict[str, Any]]:
    """One transformed copy of every real clip the transform changed (it is applied with probability ``p``)."""
    import torch

    from mirplug.audio import decode

    new = []
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
    return new, {"kind": "transform", "class": f"{type(transform).__module__}:{type(transform).__qualname__}",
                 "seed": [seed, position, "row index"]}


def generate(name: str, generator: Generator, train: Any, label_column: str, names: list[str], sample_rate: int,
             config: RunConfig, folder: Path, position: int,
             console: Console) -> tuple[list[Row], dict[str, Any], dict[str, Any]]:
    """Fit (or load) the generator on the training windows, sample, and score the samples."""
    import torch

    from mirplug.data import decode_windows

    windows = decode_windows(train, sample_rate, config.data.options["clip_seconds"],
                             config.data.options["max_windows"], "train")
    if windows.skipped:
        console.print(f"[yellow]{len(windows.skipped)} training clip(s) could not be decoded and are not used[/]")
    labels = torch.as_tensor(np.asarray(train[label_column])[windows.rows])[windows.clip]
    fit_seed = config.seed + position
    with console.status(f"fitting generator {name} on {len(labels)} windows"):
        ready = generator.fit_or_load(windows.waves, labels, names, sample_rate, seed=fit_seed, folder=folder)
    plan = ready.plan_counts(labels)
    sample_seed = config.seed + 1000 + position
    waves, sampled = ready.sample(plan, seed=sample_seed)
    digest = ready.checkpoint_hash
    options = {k: v for k, v in ready.options.items()}
    new = []
    for index, (wave, label) in enumerate(zip(waves.numpy(), sampled.tolist())):
        new.append(Row(
            audio={"bytes": wav_bytes(wave, sample_rate), "path": f"{name}-{index:05d}.wav"},
            label=int(label), id=f"{name}-{index:05d}", synthetic=True, source_id="", augmenter=name,
            augmenter_params=json.dumps({"architecture": ready.architecture, "options": options,
                                         "sample_seed": sample_seed, "fit_seed": fit_seed, "index": index,
                                         "counts": {names[k]: v for k, v in plan.items()}},
                                        sort_keys=True, default=str),
            generator_hash=digest))
    record = {"kind": "generator", "architecture": ready.architecture, "checkpoint_hash": digest,
              "fit_seed": fit_seed, "sample_seed": sample_seed, "options": options,
              "representation": ready.representation(), "training_windows": int(len(labels)),
              "training_steps": ready.summary.get("steps"),
              "clip_samples": ready.clip_samples}
    return new, record, quality_scores(windows.waves, labels, waves, sampled, names, sample_rate)


def quality_scores(real: Any, real_labels: Any, synthetic: Any, synthetic_labels: Any, names: list[str],
                   sample_rate: int) -> dict[str, Any]:
    """Fréchet distance of synthetic to real clips over log-mel statistics, overall and per class."""
    from mirplug.quality import frechet_distance, frechet_distance_per_class

    real_features, synthetic_features = mel_statistics(real, sample_rate), mel_statistics(synthetic, sample_rate)
    if len(real_features) < 2 or len(synthetic_features) < 2:
        return {"features": "log-mel mean+std", "frechet_distance": None, "per_class": {}}
    return {
        "features": f"log-mel ({QUALITY_MELS} bands) mean and std over time",
        "frechet_distance": round(float(frechet_distance(real_features, synthetic_features)), 4),
        "per_class": {k: (None if v is None else round(float(v), 4)) for k, v in frechet_distance_per_class(
            real_features, np.asarray(real_labels), synthetic_features, np.asarray(synthetic_labels), names).items()},
    }


def mel_statistics(waves: Any, sample_rate: int) -> np.ndarray:
    """``(n, time)`` -> ``(n, 2 * QUALITY_MELS)``: per-band mean and std of the dB mel spectrogram."""
    import torch
    import torchaudio

    waves = torch.as_tensor(waves, dtype=torch.float32)
    if waves.shape[0] == 0:
        return np.zeros((0, 2 * QUALITY_MELS))
    mel = torchaudio.transforms.MelSpectrogram(sample_rate=sample_rate, n_fft=1024, hop_length=256,
                                               n_mels=QUALITY_MELS)
    with torch.no_grad():
        db = 10.0 * torch.log10(mel(waves).clamp_min(1e-10))
    return torch.cat([db.mean(dim=-1), db.std(dim=-1)], dim=1).numpy()


def counts(rows: dict[str, list[Row]], names: list[str]) -> dict[str, dict[str, dict[str, int]]]:
    """Real and synthetic row counts per split and class."""
    result: dict[str, dict[str, dict[str, int]]] = {}
    for split, split_rows in rows.items():
        table = {name: {"real": 0, "synthetic": 0} for name in names}
        for row in split_rows:
            table[names[row.label]]["synthetic" if row.synthetic else "real"] += 1
        result[split] = table
    return result
