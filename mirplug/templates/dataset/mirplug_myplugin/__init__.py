"""mirplug plugin 'myplugin': registers the dataset 'myplugin'.

Imported every time mirplug starts, so it stays light: the loader itself lives in
``mirplug_myplugin.component`` and is only imported when a run uses it.
"""

from __future__ import annotations

from mirplug import DatasetSpec, Option, hookimpl


@hookimpl
def mirplug_register_datasets() -> list[DatasetSpec]:
    """Register the dataset 'myplugin'."""
    return [
        DatasetSpec(
            name="myplugin",
            summary="sine tones in three pitch classes (low, mid, high), generated offline",
            factory="mirplug_myplugin.component:load",
            options=(
                # not clip_seconds, max_windows, ...: those data.* keys belong to mirplug, for every dataset
                Option(name="clips_per_class", type=int, default=20, minimum=3, maximum=10_000,
                       help="clips generated per class"),
                Option(name="seconds", type=float, default=3.0, minimum=0.5, maximum=600.0,
                       help="length of each clip"),
                Option(name="sample_rate", type=int, default=16000, minimum=8000, maximum=192000,
                       help="sample rate of the files"),
            ),
            quick_options={"clips_per_class": 6},  # mirplug validate: a tiny end-to-end run
            license="MIT",
        )
    ]
