"""The ``mirplug`` command line (Typer), one module per command group.

Nothing heavy is imported here: ``mirplug --help`` must answer without importing torch.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Optional

import typer

from mirplug.cli import (
    ablate,
    augment,
    cache,
    doctor,
    install,
    listing,
    predict,
    push,
    run,
    scaffold,
    sweep,
    validate,
)
from mirplug.cli.common import version_text
from mirplug.errors import MirplugError, one_line

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
cache.register(app)
install.register(app)
validate.register(app)
scaffold.register(app)
sweep.register(app)
ablate.register(app)
augment.register(app)
push.register(app)
doctor.register(app)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(version_text())
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_print_version, is_eager=True,
                                                    help="print mirplug's version and exit")] = None,
) -> None:
    """Options of ``mirplug`` itself (``--version``), before any command."""


_plugin_commands_added = False


def _add_plugin_commands_once() -> None:
    """Add plugin commands at the first :func:`main` call; importing this module stays cheap."""
    global _plugin_commands_added
    if _plugin_commands_added:
        return
    _plugin_commands_added = True
    from mirplug.cli.plugin_commands import add_plugin_commands

    add_plugin_commands(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the app; a :class:`MirplugError` becomes one line and exit code 2.

    An ``ImportError`` or ``OSError`` that escapes a command is one line and exit code 2 too when a
    compiled dependency does not load (:func:`mirplug.environment.broken_environment`); any other is
    a bug and keeps its traceback.
    """
    try:
        _add_plugin_commands_once()
        app(args=argv, prog_name="mirplug")
    except MirplugError as exc:
        if os.environ.get("MIRPLUG_DEBUG"):
            raise
        print(f"error: {one_line(exc)}", file=sys.stderr)
        sys.exit(2)
    except (ImportError, OSError):
        from mirplug.environment import broken_environment

        broken = None if os.environ.get("MIRPLUG_DEBUG") else broken_environment()
        if broken is None:
            raise
        print(f"error: {broken}", file=sys.stderr)
        sys.exit(2)
