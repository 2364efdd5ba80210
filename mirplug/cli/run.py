"""``mirplug run``: train and evaluate a model from ``key=value`` overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

OVERRIDES_HELP = (
    "key=value overrides, e.g. task=genre backbone=cnn train.epochs=5 augmenter=gain,noise "
    "data=audiofolder data.path=DIR; see 'mirplug list' for components and their options"
)


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""

    @app.command("run")
    def run_command(
        overrides: Annotated[Optional[list[str]], typer.Argument(help=OVERRIDES_HELP, show_default=False)] = None,
        config: Annotated[
            Optional[Path], typer.Option("--config", help="start from a run's config.yaml (overrides still apply)")
        ] = None,
    ) -> None:
        """Train and evaluate a model; writes a run folder under runs/."""
        from mirplug.cli.common import catalog_with_warnings, err_console
        from mirplug.config import config_from_dict, resolve
        from mirplug.rundir import read_yaml

        catalog = catalog_with_warnings()
        base = config_from_dict(read_yaml(config)) if config else []
        resolved = resolve(catalog, base + list(overrides or []))
        from mirplug.runner import run

        run(resolved, catalog, err_console)
