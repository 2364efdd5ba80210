"""Built-in backbones: ``cnn`` (small CNN trained from scratch), ``mlp`` (time-pooled features), ``linear``."""

from __future__ import annotations

from mirplug.hookspecs import hookimpl
from mirplug.specs import BackboneSpec, Option


@hookimpl
def mirplug_register_backbones() -> list[BackboneSpec]:
    """Register the built-in backbones."""
    return [
        BackboneSpec(
            name="cnn", summary="small 2-D CNN over a spectrogram, trained from scratch; clip and frame embeddings",
            factory="mirplug_builtin.backbones.cnn:SmallCNN",
            options=(
                Option(name="channels", type=int, default=16, minimum=1, help="channels of the first block"),
                Option(name="blocks", type=int, default=4, minimum=1, maximum=8, help="conv blocks"),
                Option(name="dropout", type=float, default=0.2, minimum=0.0, maximum=0.9, help="dropout before the head"),
                Option(name="pool_time", type=bool, default=True,
                       help="halve the frame rate in every block (false keeps the input frame rate, for frame tasks)"),
            ),
            license="MIT",
        ),
        BackboneSpec(
            name="mlp", summary="MLP over time-pooled features (mean and standard deviation per channel)",
            factory="mirplug_builtin.backbones.mlp:PooledMLP",
            options=(
                Option(name="hidden", type=int, default=128, minimum=1, help="units per hidden layer"),
                Option(name="layers", type=int, default=2, minimum=1, maximum=8, help="hidden layers"),
                Option(name="dropout", type=float, default=0.2, minimum=0.0, maximum=0.9, help="dropout"),
            ),
            license="MIT",
        ),
        BackboneSpec(
            name="linear", summary="linear classifier over standardized features (clip-level, or mean and std over time)",
            factory="mirplug_builtin.backbones.linear:Linear",
            options=(Option(name="dropout", type=float, default=0.0, minimum=0.0, maximum=0.9,
                            help="dropout on the features"),),
            license="MIT",
        ),
    ]
