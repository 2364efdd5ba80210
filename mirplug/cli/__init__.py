"""The ``mirplug`` command line (Typer), one module per command group.

Nothing heavy is imported here: ``mirplug --help`` must answer without importing torch.
"""

from __future__ import annotations

import os
import sys

import typer

from mirplug.cli import listing, predict, run, sweep
from mirplug.errors import MirplugError

app = typer.Typer(
    name="mirplug",
    help="Music information retrieval with deep learning, built from plugins.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
run.register(app)
predict.register(app)
listing.register(app)
sweep.register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the app; a :class:`MirplugError` becomes one line and exit code 2."""
    try:
        app(args=argv, prog_name="mirplug")
    except MirplugError as exc:
        if os.environ.get("MIRPLUG_DEBUG"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
