"""``mirplug validate``: run the contract checks of :mod:`mirplug.testing` on a plugin.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""

    @app.command("validate")
    def validate_command(
        plugin: Annotated[str, typer.Argument(help="plugin (entry-point name, e.g. 'myfeat') or its distribution")],
    ) -> None:
        """Check every component of a plugin against its contract; exit 1 if any check fails."""
        from rich.console import Console

        from mirplug.cli.common import catalog_with_warnings
        from mirplug.testing import FAIL, SKIP, check_plugin, results_table

        catalog = catalog_with_warnings()
        results = check_plugin(plugin, catalog)
        console = Console(width=160)
        console.print(results_table(results, escape(f"contract checks of plugin '{plugin}'")))
        failed = sum(r.status == FAIL for r in results)
        skipped = sum(r.status == SKIP for r in results)
        passed = len(results) - failed - skipped
        console.print(f"{passed} passed, {failed} failed, {skipped} skipped")
        if failed:
            raise typer.Exit(1)
