"""mirplug plugin 'myplugin': registers the backbone 'myplugin'.

Imported every time mirplug starts, so it stays light: the component itself lives in
``mirplug_myplugin.component`` and is only imported (with torch) when a run uses it.
"""

from __future__ import annotations

from mirplug import BackboneSpec, Option, hookimpl


@hookimpl
def mirplug_register_backbones() -> list[BackboneSpec]:
    """Register the backbone 'myplugin'."""
    return [
        BackboneSpec(
            name="myplugin",
            summary="1-D convolution over time, then mean pooling",
            factory="mirplug_myplugin.component:ConvPool",
            options=(
                Option(name="hidden", type=int, default=64, minimum=1, maximum=4096,
                       help="channels of the convolution"),
                Option(name="kernel_frames", type=int, default=5, minimum=1, maximum=101,
                       help="convolution width in frames"),
            ),
            expects=None,  # (channels, frames) features or clip vectors alike
            license="MIT",
        )
    ]
