"""Dataset ``synthetic``: procedurally generated music-like clips, nothing downloaded.

Generated on first use into the cache folder (one WAV file per clip in the audiofolder
layout, plus ``metadata.jsonl`` with everything the generator chose) and reused after.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from mirplug import ConfigError, cache_dir
from mirplug_builtin.datasets.audiofolder import folder_dataset
from mirplug_builtin.datasets.synth import (
    GENERATOR_VERSION,
    STYLES,
    generate_clip,
    instrument_names,
    key_names,
    style_names,
    tag_names,
    tags_of,
)


def _render(job: tuple[int, int, int, float, int, str]) -> dict[str, Any]:
    import soundfile

    style_index, seed, index, seconds, sample_rate, path = job
    samples, info = generate_clip(style_index, seed, index, seconds, sample_rate)
    soundfile.write(path, samples, sample_rate, subtype="PCM_16")
    return info


def dataset_folder(clips_per_class: int, seconds: float, sample_rate: int, styles: int, seed: int) -> Path:
    """Generate the clips once (in parallel, with a progress bar) and return their folder."""
    key = json.dumps([GENERATOR_VERSION, clips_per_class, seconds, sample_rate, styles, seed])
    folder = cache_dir() / "datasets" / f"synthetic-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    if (folder / "COMPLETE").exists():
        return folder
    from rich.progress import Progress

    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    jobs = []
    for style_index, name in enumerate(style_names(styles)):
        (partial / name).mkdir(parents=True, exist_ok=True)
        for index in range(clips_per_class):
            path = partial / name / f"{name}.{index:05d}.wav"
            jobs.append((style_index, seed, index, seconds, sample_rate, str(path)))
    workers = min(len(jobs), os.cpu_count() or 1)
    with Progress(transient=True) as progress, ProcessPoolExecutor(workers) as pool:
        bar = progress.add_task(f"generating {len(jobs)} synthetic clips", total=len(jobs))
        infos = []
        for job, info in zip(jobs, pool.map(_render, jobs, chunksize=8)):
            infos.append({"id": str(Path(job[5]).relative_to(partial)), **info})
            progress.advance(bar)
    with open(partial / "metadata.jsonl", "w") as handle:
        for info in infos:
            handle.write(json.dumps(info) + "\n")
    (partial / "COMPLETE").write_text(key)
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return folder


def load(clips_per_class: int = 60, seconds: float = 3.0, sample_rate: int = 16000, styles: int = 6,
         seed: int = 0, task: str = "genre", **_: Any) -> Any:
    """The synthetic dataset as a ``datasets.Dataset``, its ``label`` column shaped for ``task``.

    ``label`` is the style for ``genre`` (and any other task), the lead instrument for
    ``instrument`` and the key for ``key``; every clip also carries ``style``, ``tempo``,
    ``beats`` (seconds), ``key``, ``instruments``, ``tags`` (a multi-label column),
    ``valence`` and ``arousal``.
    """
    import datasets

    if not 2 <= styles <= len(STYLES):
        raise ConfigError(f"data.styles={styles} must lie between 2 and {len(STYLES)}")
    folder = dataset_folder(clips_per_class, seconds, sample_rate, styles, seed)
    infos = [json.loads(line) for line in (folder / "metadata.jsonl").read_text().splitlines()]
    label_of, names = {
        "instrument": (lambda info: info["lead_instrument"],
                       [n for n in instrument_names() if any(i["lead_instrument"] == n for i in infos)]),
        "key": (lambda info: info["key"], key_names()),
    }.get(task, (lambda info: info["style"], style_names(styles)))
    rows = [(str(folder / info["id"]), label_of(info), info["id"]) for info in infos]
    extra = {name: [info[name] for info in infos]
             for name in ("style", "tempo", "beats", "key", "instruments", "valence", "arousal")}
    dataset = folder_dataset(rows, names, extra)
    tags = tag_names()
    tag_column = [[tags.index(t) for t in tags_of(info)] for info in infos]
    return dataset.add_column("tags", tag_column, feature=datasets.List(datasets.ClassLabel(names=tags)))
