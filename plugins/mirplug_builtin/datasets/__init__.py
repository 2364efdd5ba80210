"""Built-in datasets: ``synthetic`` (the default, generated offline), ``audiofolder``, ``manifest`` and ``hub``."""

from __future__ import annotations

from mirplug import DatasetSpec, Option, hookimpl


@hookimpl
def mirplug_register_datasets() -> list[DatasetSpec]:
    """Register the built-in datasets."""
    return [
        DatasetSpec(
            name="synthetic",
            summary="procedural music-like clips in up to 8 styles, generated offline and cached",
            factory="mirplug_builtin.datasets.synthetic:load",
            options=(
                Option(name="clips_per_class", type=int, default=60, minimum=3, maximum=10_000,
                       help="clips generated per style"),
                Option(name="seconds", type=float, default=3.0, minimum=0.5, maximum=600.0, help="length of each clip"),
                Option(name="sample_rate", type=int, default=16000, minimum=8000, maximum=192000,
                       help="sample rate of the files"),
                Option(name="styles", type=int, default=6, minimum=2, maximum=8, help="number of styles (classes)"),
                Option(name="seed", type=int, default=0, minimum=0, maximum=2**32 - 1,
                       help="generator seed (independent of the run seed)"),
            ),
            quick_options={"clips_per_class": 6},  # mirplug validate: as few clips as a three-way split allows
            license="MIT",
        ),
        DatasetSpec(
            name="audiofolder",
            summary="a folder with one sub-folder per label, optionally under train/validation/test",
            factory="mirplug_builtin.datasets.audiofolder:load",
            options=(Option(name="path", type=str, default=None, help="the folder"),),
            needs_options=("path",),
            license="as the audio",
        ),
        DatasetSpec(
            name="manifest",
            summary="a CSV/JSONL file of paths plus label, tags, numeric or annotation columns",
            factory="mirplug_builtin.datasets.manifest:load",
            options=(
                Option(name="path", type=str, default=None, help="the manifest file (.csv or .jsonl)"),
                Option(name="tag_separator", type=str, default=";", help="separator inside the tags column"),
                Option(name="events_column", type=str, default="beats", help="column the annotation times go to"),
            ),
            needs_options=("path",),
            license="as the audio",
        ),
        DatasetSpec(
            name="hub",
            summary="a Hugging Face Hub dataset (data.repo_id) or a save_to_disk folder (data.path), e.g. from "
                    "'mirplug augment'; data.synthetic selects real/synthetic rows",
            factory="mirplug_builtin.datasets.hub:load",
            options=(
                Option(name="repo_id", type=str, default=None, help="Hub dataset id, OWNER/NAME"),
                Option(name="revision", type=str, default=None, help="branch, tag or commit of the Hub dataset"),
                Option(name="path", type=str, default=None, help="a folder written by save_to_disk"),
                Option(name="synthetic", type=str, default="exclude", choices=("exclude", "include", "only"),
                       help="exclude, include or only the synthetic rows (training split)"),
            ),
            needs_options=("repo_id", "path"),
            license="as the source dataset",
        ),
    ]
