"""mirplug plugin 'myplugin': registers the generator augmenter 'myplugin'.

Imported every time mirplug starts, so it stays light: the generator itself lives in
``mirplug_myplugin.component`` and is only imported (with torch) when a run uses it.
"""

from __future__ import annotations

from mirplug import AugmenterSpec, Option, hookimpl


@hookimpl
def mirplug_register_augmenters() -> list[AugmenterSpec]:
    """Register the generator 'myplugin'."""
    return [
        AugmenterSpec(
            name="myplugin",
            summary="noise shaped like each class's average spectrum, with random phase",
            factory="mirplug_myplugin.component:SpectrumNoise",
            stage="generator",  # fitted on the training split, then sampled
            options=(
                # read by mirplug: how many clips to sample (Generator.plan_counts)
                Option(name="per_class", type=int, default=0, minimum=0, maximum=100_000,
                       help="synthetic clips added to every class"),
                Option(name="balance", type=bool, default=False, help="bring every class up to the largest"),
                # this generator's own option
                Option(name="smoothing_bins", type=int, default=8, minimum=1, maximum=4096,
                       help="frequency bins averaged into the spectral envelope"),
            ),
            # mirplug validate fits it with these (a generator that trains for steps gives a few here)
            quick_options={"smoothing_bins": 4},
            license="MIT",
        )
    ]
