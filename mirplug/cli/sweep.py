"""``mirplug sweep``: run a grid of ``key=value`` overrides and write a learning-curve table.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

SWEEP_HELP = (
    "key=value overrides; a comma list expands into the grid (except augmenter=), e.g. task=genre "
    "backbone=musicnn data.per_class=1,5,10,20 seed=0,1,2,3,4; engine=ray [engine.address=auto|ray://HOST:PORT] "
    "[engine.workers=N] [engine.cpus_per_run=N] [engine.gpus_per_run=N] runs each grid point as a Ray task"
)


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""

    @app.command("sweep")
    def sweep_command(
        overrides: Annotated[Optional[list[str]], typer.Argument(help=SWEEP_HELP, show_default=False)] = None,
        arm: Annotated[
            Optional[list[str]],
            typer.Option("--arm", help="a space-separated group of overrides compared in the same table, e.g. "
                                       "--arm 'backbone=musicnn' --arm 'representation=mfcc backbone=mlp'; repeatable"),
        ] = None,
        out: Annotated[str, typer.Option("--out", help="folder in which the sweep folder is created")] = "sweeps",
        resume: Annotated[Optional[str], typer.Option(
            "--resume", help="folder of an interrupted sweep with the same command: finished runs are kept, an "
                             "interrupted one continues from its checkpoint")] = None,
    ) -> None:
        """Run every combination (in this process, or as Ray tasks with engine=ray); mean and 95% CI over seeds per cell, as CSV, markdown and a plot."""
        from mirplug.cli.common import catalog_with_warnings, err_console
        from mirplug.engines import split_engine
        from mirplug.sweep import run_sweep

        engine, rest = split_engine(list(overrides or []))  # engine=ray runs each grid point as a Ray task
        if engine.ray:
            from mirplug.engines.ray_engine import check_ray

            check_ray()  # Ray missing: one line before anything is resolved
        run_sweep(catalog_with_warnings(), rest, list(arm or []), out, err_console, resume, engine)
