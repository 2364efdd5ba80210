"""mirplug-tensorboard: the ``tensorboard`` logger (``mirplug run ... logger=tensorboard``).

Registers one :class:`~mirplug.specs.LoggerSpec`; the logger itself is in
:mod:`mirplug_tensorboard.logger` and is imported only when a run chooses it.
"""

from __future__ import annotations

from mirplug import LoggerSpec, Option, hookimpl


@hookimpl
def mirplug_register_loggers() -> list[LoggerSpec]:
    return [LoggerSpec(
        name="tensorboard",
        summary="TensorBoard event files: per-epoch train/validation losses and metrics, test scores, the config",
        factory="mirplug_tensorboard.logger:TensorBoardLogger",
        options=(
            Option(name="log_dir", type=str, default=None,
                   help="folder of the event files (default: the run folder's tensorboard/); a relative path is "
                        "taken inside the run folder"),
            Option(name="flush_secs", type=int, default=30, minimum=1, maximum=3600,
                   help="seconds between writes to disk while the run goes on (the end of the run always writes)"),
        ),
        license="MIT",
    )]
