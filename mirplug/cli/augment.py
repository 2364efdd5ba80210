"""``mirplug augment``: write an augmented dataset with per-row provenance (see :mod:`mirplug.augment`).

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

AUGMENT_HELP = (
    "key=value overrides as for 'mirplug run', e.g. task=genre augmenter=vae augmenter.per_class=50 out=DIR "
    "(out= is the folder the dataset is saved to)"
)


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""

    @app.command("augment")
    def augment_command(
        overrides: Annotated[Optional[list[str]], typer.Argument(help=AUGMENT_HELP, show_default=False)] = None,
    ) -> None:
        """Write an augmented dataset (save_to_disk): real + synthetic training rows, real validation/test."""
        from pathlib import Path

        from mirplug.cli.common import catalog_with_warnings, err_console
        from mirplug.config import resolve
        from mirplug.errors import ConfigError

        items = list(overrides or [])
        if not any(item.startswith("out=") for item in items):
            raise ConfigError("mirplug augment needs out=DIR: the folder the augmented dataset is saved to")
        catalog = catalog_with_warnings()
        resolved = resolve(catalog, items)
        from mirplug.augment import augment

        augment(resolved, catalog, Path(resolved.out), err_console)
