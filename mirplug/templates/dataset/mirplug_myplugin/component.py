"""Dataset 'myplugin': sine tones in three pitch classes, generated once into mirplug's cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mirplug import build_once, cache_dir

CLASSES = {"low": (110.0, 220.0), "mid": (330.0, 660.0), "high": (990.0, 1980.0)}


def _generate(folder: Path, clips_per_class: int, seconds: float, sample_rate: int) -> None:
    import soundfile

    rng = np.random.default_rng(0)
    time = np.arange(int(seconds * sample_rate)) / sample_rate
    for label, (low, high) in CLASSES.items():
        (folder / label).mkdir(parents=True, exist_ok=True)
        for index in range(clips_per_class):
            tone = 0.5 * np.sin(2 * np.pi * rng.uniform(low, high) * time)
            noise = 0.02 * rng.standard_normal(len(time))
            soundfile.write(folder / label / f"{label}{index:04d}.wav", (tone + noise).astype(np.float32), sample_rate)


def load(clips_per_class: int = 20, seconds: float = 3.0, sample_rate: int = 16000, task: str = "",
         **_: Any) -> Any:
    """A ``datasets.Dataset`` with ``audio`` (not decoded), ``label`` (ClassLabel) and ``id``."""
    import datasets

    # generated once, even when several runs start at the same time (a lock, a temporary folder, one rename)
    folder = build_once(cache_dir() / "datasets" / f"myplugin-{clips_per_class}-{seconds:g}-{sample_rate}",
                        lambda temporary: _generate(temporary, clips_per_class, seconds, sample_rate))
    labels = list(CLASSES)
    paths = sorted(folder.glob("*/*.wav"))
    features = datasets.Features({
        "audio": {"bytes": datasets.Value("binary"), "path": datasets.Value("string")},
        "label": datasets.ClassLabel(names=labels),
        "id": datasets.Value("string"),
    })
    columns = {
        "audio": [{"path": str(path), "bytes": None} for path in paths],
        "label": [labels.index(path.parent.name) for path in paths],
        "id": [f"{path.parent.name}/{path.name}" for path in paths],
    }
    # build a plain struct, then cast: datasets' Audio encoder would otherwise need torchcodec
    return datasets.Dataset.from_dict(columns, features=features).cast_column("audio", datasets.Audio(decode=False))
