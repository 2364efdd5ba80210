"""Dataset ``synthetic``: procedurally generated music-like clips, nothing downloaded.

Generated on first use into the cache folder (one WAV file per clip in the audiofolder
layout, plus ``metadata.jsonl`` with everything the generator chose) and reused after.

Any number of processes may ask for the same dataset at once (:mod:`mirplug.publish`): one
generates it under the dataset's file lock into a private temporary folder and publishes it with
one rename; the others wait for the lock and reuse it. ``manifest.json`` records the size,
modification time and XXH3-128 checksum of every file: a clip whose size or time changed is
hashed again, and one that no longer matches (truncated, overwritten) is generated again in
place, with a note, as are all of them when the metadata or the manifest itself is damaged.
"""

from __future__ import annotations

import hashlib
import json
import os
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

MANIFEST = "manifest.json"
METADATA = "metadata.jsonl"
COMPLETE = "COMPLETE"
MANIFEST_VERSION = 1
CLIPS_PER_WORKER = 32  # fewer clips than this per worker are generated in this process (no pool to start)

Job = tuple[int, int, int, float, int, str]  # style index, seed, clip index, seconds, sample rate, clip id


def _render(job: Job, folder: str) -> dict[str, Any]:
    import soundfile

    style_index, seed, index, seconds, sample_rate, clip_id = job
    samples, info = generate_clip(style_index, seed, index, seconds, sample_rate)
    soundfile.write(os.path.join(folder, clip_id), samples, sample_rate, subtype="PCM_16")
    return {"id": clip_id, **info}


def _render_into(job_and_folder: tuple[Job, str]) -> dict[str, Any]:
    return _render(*job_and_folder)


def _render_all(jobs: list[Job], folder: Path, what: str) -> list[dict[str, Any]]:
    """Render ``jobs`` into ``folder`` (worker processes that die with this one when there are many)."""
    from rich.progress import Progress

    from mirplug import worker_pool

    for clip_id in {str(Path(job[5]).parent) for job in jobs}:
        (folder / clip_id).mkdir(parents=True, exist_ok=True)
    workers = min(os.cpu_count() or 1, len(jobs) // CLIPS_PER_WORKER)
    work = [(job, str(folder)) for job in jobs]
    with Progress(transient=True) as progress:
        bar = progress.add_task(f"{what} {len(jobs)} synthetic clips", total=len(jobs))
        infos = []
        if workers < 2:
            results: Any = map(_render_into, work)
            pool = None
        else:
            pool = worker_pool(workers)
            results = pool.map(_render_into, work, chunksize=8)
        try:
            for info in results:
                infos.append(info)
                progress.advance(bar)
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
    return infos


def _file_digest(path: Path) -> str:
    import xxhash

    digest = xxhash.xxh3_128()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _record(path: Path) -> dict[str, Any]:
    status = path.stat()
    return {"size": status.st_size, "mtime_ns": status.st_mtime_ns, "xxh3_128": _file_digest(path)}


def _write_manifest(folder: Path, files: dict[str, dict[str, Any]], key: str) -> None:
    from mirplug import publish

    temporary = publish.temporary_file(folder / MANIFEST)
    temporary.write_text(json.dumps({"version": MANIFEST_VERSION, "key": key, "files": files}, indent=1,
                                    sort_keys=True))
    os.replace(temporary, folder / MANIFEST)


def _jobs(clips_per_class: int, seconds: float, sample_rate: int, styles: int, seed: int) -> list[Job]:
    return [(style_index, seed, index, seconds, sample_rate, f"{name}/{name}.{index:05d}.wav")
            for style_index, name in enumerate(style_names(styles)) for index in range(clips_per_class)]


def inspect(folder: Path, key: str) -> tuple[list[str], list[str], dict[str, dict[str, Any]] | None]:
    """(damaged files, files whose stamp changed but content did not, the manifest's records).

    A file is checked by size and modification time first (the stat check ``make`` and ``rsync``
    rely on) and hashed only when they differ. No manifest, a garbled one or one for another key:
    ``(["manifest.json"], [], None)``, everything is suspect.
    """
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        files = dict(manifest["files"])
        if manifest.get("version") != MANIFEST_VERSION or manifest.get("key") != key or METADATA not in files:
            raise ValueError("another manifest")
    except (OSError, ValueError, KeyError, TypeError):
        return [MANIFEST], [], None
    damaged, restamped = [], []
    for name, record in sorted(files.items()):
        path = folder / name
        try:
            status = path.stat()
            if status.st_size == record["size"] and status.st_mtime_ns == record["mtime_ns"]:
                continue
            if status.st_size == record["size"] and _file_digest(path) == record["xxh3_128"]:
                restamped.append(name)
                continue
        except (OSError, KeyError, TypeError):
            pass
        damaged.append(name)
    return damaged, restamped, files


def dataset_folder(clips_per_class: int, seconds: float, sample_rate: int, styles: int, seed: int) -> Path:
    """The folder of the generated dataset: generated once (in parallel, with a progress bar),
    checked against its manifest on every use and repaired where damaged."""
    from mirplug import publish

    key = json.dumps([GENERATOR_VERSION, clips_per_class, seconds, sample_rate, styles, seed])
    folder = cache_dir() / "datasets" / f"synthetic-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    if (folder / COMPLETE).exists() and inspect(folder, key)[:2] == ([], []):
        return folder
    jobs = _jobs(clips_per_class, seconds, sample_rate, styles, seed)
    with publish.lock(folder):
        publish.remove_stale_temporaries(folder)  # left by killed processes; whoever builds holds this lock
        if not (folder / COMPLETE).exists():
            with publish.building(folder) as temporary:
                infos = _render_all(jobs, temporary, "generating")
                with open(temporary / METADATA, "w") as handle:
                    for info in infos:
                        handle.write(json.dumps(info) + "\n")
                _write_manifest(temporary, {name: _record(temporary / name)
                                            for name in [job[5] for job in jobs] + [METADATA]}, key)
                (temporary / COMPLETE).write_text(key)
                publish.publish_folder(temporary, folder)  # under the lock it wins; without working locks the loser reuses
        else:
            _repair(folder, jobs, key)
    return folder


def _repair(folder: Path, jobs: list[Job], key: str) -> None:
    """Generate damaged clips again in place (each published by an atomic replace); hold the lock."""
    import shutil

    from rich.console import Console
    from rich.markup import escape

    from mirplug import publish

    damaged, restamped, files = inspect(folder, key)
    if not damaged and not restamped:
        return  # another process repaired it while this one waited for the lock
    everything = files is None or METADATA in damaged
    records = dict(files or {})
    if damaged:
        redo = jobs if everything else [job for job in jobs if job[5] in damaged]
        temporary = publish.temporary_folder(folder)
        try:
            infos = _render_all(redo, temporary, "repairing")
            for job in redo:
                os.replace(temporary / job[5], folder / job[5])
            if everything:
                (temporary / METADATA).write_text("".join(json.dumps(info) + "\n" for info in infos))
                os.replace(temporary / METADATA, folder / METADATA)
        finally:
            shutil.rmtree(temporary, ignore_errors=True)
        what = ("every clip (its manifest or metadata was missing or damaged)" if everything
                else ", ".join(sorted(damaged)))
        Console(stderr=True).print(f"[yellow]note:[/] repaired the synthetic dataset in {escape(str(folder))}: "
                                   f"generated again {escape(what)}", soft_wrap=True, highlight=False)
    names = [job[5] for job in jobs] + [METADATA] if everything else [*damaged, *restamped]
    for name in names:
        records[name] = _record(folder / name)
    _write_manifest(folder, records, key)


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
