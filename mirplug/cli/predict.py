"""``mirplug predict``: load a run's model and predict on audio files.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""

    @app.command("predict")
    def predict_command(
        files: Annotated[list[Path], typer.Argument(help="audio files (wav, flac, ogg, mp3, ...)")],
        run: Annotated[Path, typer.Option("--run", help="a run folder written by 'mirplug run'")],
        as_json: Annotated[bool, typer.Option("--json", help="print JSON lines instead of a table")] = False,
    ) -> None:
        """Print the predicted label and its probability for each file."""
        from rich.console import Console
        from rich.table import Table

        from mirplug.cli.common import catalog_with_warnings, err_console
        from mirplug.predict import load_run, predict_files

        loaded = load_run(run, catalog_with_warnings())
        rows = predict_files(loaded, [str(f) for f in files])
        if as_json:
            for row in rows:
                typer.echo(json.dumps(row))
        else:
            # The task decides the columns (label and probability, tags, values, event times).
            columns = list(dict.fromkeys(k for row in rows for k in row if k != "error" and not k.startswith("p_")))
            table = Table()
            for column in columns:
                table.add_column(escape(column))
            for row in rows:
                if "error" in row:
                    table.add_row(escape(row["file"]), f"[red]skipped: {escape(row['error'])}[/]",
                                  *[""] * (len(columns) - 2))
                else:
                    table.add_row(*(f"{row[c]:.3f}" if isinstance(row.get(c), float) else escape(str(row.get(c, "")))
                                    for c in columns))
            Console(width=200).print(table)
        for row in rows:
            if "error" in row:
                err_console.print(f"[yellow]skipped[/] {escape(row['file'])}: {escape(row['error'])}", soft_wrap=True,
                                  highlight=False)
        if all("error" in row for row in rows):
            raise typer.Exit(1)
