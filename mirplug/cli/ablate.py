"""``mirplug ablate``: real only vs real + augmenters vs real + classical augmentation, paired by seed.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

ABLATE_HELP = ("key=value overrides; augmenter=... names the augmentation to evaluate; comma lists expand "
               "(seed=0,1,2,3,4), e.g. task=genre augmenter=vae augmenter.per_class=20 data.per_class=5 seed=0,1,2; "
               "engine=ray [engine.address=auto|ray://HOST:PORT] [engine.cpus_per_run=N] runs each as a Ray task")


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""

    @app.command("ablate")
    def ablate_command(
        overrides: Annotated[Optional[list[str]], typer.Argument(help=ABLATE_HELP, show_default=False)] = None,
        classical: Annotated[str, typer.Option("--classical", help="the classical augmentation arm ('' for none)")] = (
            "gain,timeshift,specaugment"),
        arm: Annotated[Optional[list[str]], typer.Option(
            "--arm", help="another augmented arm, e.g. --arm \"augmenter=gan augmenter.per_class=20\" (repeatable)")] = None,
        out: Annotated[str, typer.Option("--out", help="folder in which the ablation folder is created")] = "sweeps",
        resume: Annotated[Optional[str], typer.Option(
            "--resume", help="folder of an interrupted ablation run with the same command: finished runs are kept")] = None,
    ) -> None:
        """Measure an augmentation: mean and 95% CI of the metric difference against real only."""
        from mirplug.ablate import run_ablation
        from mirplug.cli.common import catalog_with_warnings, err_console
        from mirplug.engines import split_engine

        engine, rest = split_engine(list(overrides or []))  # engine=ray runs each grid point as a Ray task
        if engine.ray:
            from mirplug.engines.ray_engine import check_ray

            check_ray()  # Ray missing: one line before anything is resolved
        run_ablation(catalog_with_warnings(), rest, classical, out, err_console, list(arm or []), resume, engine)
