"""mirplug plugin 'myplugin': registers the augmenter 'myplugin'.

Imported every time mirplug starts, so it stays light: the component itself lives in
``mirplug_myplugin.component`` and is only imported (with torch) when a run uses it.
"""

from __future__ import annotations

from mirplug import AugmenterSpec, Option, hookimpl


@hookimpl
def mirplug_register_augmenters() -> list[AugmenterSpec]:
    """Register the augmenter 'myplugin'."""
    return [
        AugmenterSpec(
            name="myplugin",
            summary="random linear fade-in and fade-out",
            factory="mirplug_myplugin.component:Fade",
            options=(
                Option(name="p", type=float, default=0.5, minimum=0.0, maximum=1.0,
                       help="probability of applying it"),
                Option(name="max_fade_fraction", type=float, default=0.3, minimum=0.0, maximum=0.5,
                       help="longest fade, as a fraction of the example"),
            ),
            stage="waveform",
            license="MIT",
        )
    ]
