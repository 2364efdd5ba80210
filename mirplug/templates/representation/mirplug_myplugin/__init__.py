"""mirplug plugin 'myplugin': registers the representation 'myplugin'.

Imported every time mirplug starts, so it stays light: the component itself lives in
``mirplug_myplugin.component`` and is only imported (with torch) when a run uses it.
"""

from __future__ import annotations

from mirplug import Option, RepresentationSpec, hookimpl


@hookimpl
def mirplug_register_representations() -> list[RepresentationSpec]:
    """Register the representation 'myplugin'."""
    return [
        RepresentationSpec(
            name="myplugin",
            summary="log energy in equal-width frequency bands",
            factory="mirplug_myplugin.component:BandEnergy",
            options=(
                Option(name="sample_rate", type=int, default=16000, minimum=1000, maximum=192000,
                       help="audio is resampled to this"),
                Option(name="n_bands", type=int, default=16, minimum=1, maximum=1024, help="frequency bands"),
                Option(name="hop_length_ms", type=float, default=20.0, minimum=1.0, maximum=1000.0,
                       help="hop between frames"),
            ),
            license="MIT",
        )
    ]
