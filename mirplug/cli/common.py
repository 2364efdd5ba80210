"""Helpers shared by the command modules.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from mirplug.catalog import Catalog

err_console = Console(stderr=True)


def catalog_with_warnings() -> Catalog:
    """Load the catalog and print one warning line per broken plugin."""
    from mirplug.catalog import load_catalog

    catalog = load_catalog()
    for failure in catalog.failures:
        err_console.print(f"[yellow]warning:[/] {escape(failure.line())}", highlight=False, soft_wrap=True)
    for clash in catalog.clashes():
        err_console.print(f"[yellow]warning:[/] {escape(clash)}", highlight=False, soft_wrap=True)
    return catalog


def version_text() -> str:
    """``mirplug X.Y.Z``: the installed distribution's version (the package's own when not installed)."""
    from importlib import metadata

    try:
        version = metadata.version("mirplug")
    except metadata.PackageNotFoundError:
        from mirplug import __version__ as version
    return f"mirplug {version}"
