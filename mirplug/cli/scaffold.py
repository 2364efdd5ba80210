"""``mirplug new-plugin``: scaffold a plugin package.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""

    @app.command("new-plugin")
    def new_plugin_command(
        name: Annotated[str, typer.Argument(help="plugin and component name, e.g. myfeat")],
        kind: Annotated[str, typer.Option("--kind", help="representation|backbone|augmenter|generator|task|dataset|logger")],
        path: Annotated[Path, typer.Option("--path", help="folder in which mirplug-NAME/ is created")] = Path("."),
    ) -> None:
        """Write a ready-to-install plugin package mirplug-NAME/ with one working component."""
        from mirplug.cli.common import err_console
        from mirplug.scaffold import new_plugin

        root = new_plugin(name, kind, path)
        err_console.print(escape(f"created {root}\nnext: mirplug install {root} && mirplug validate {name}"),
                          highlight=False)
