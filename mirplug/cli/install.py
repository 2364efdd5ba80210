"""``mirplug install``, ``mirplug uninstall`` and ``mirplug plugins restore``: pip, made safe for plugins.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

UNLISTED_WARNING = (
    "'{what}' is not in mirplug's plugin registry. A plugin is ordinary Python code that runs with "
    "your permissions every time mirplug starts; install it only if you trust its author."
)


def install_plugin(what: str, upgrade: bool = False, editable: bool = False, yes: bool = False) -> str:
    """Resolve ``what`` (registry name, path or requirement), warn if unlisted, pip-install, record it."""
    from mirplug.cli.common import err_console
    from mirplug.installer import ManifestEntry, canonical, load_registry, pip_install, record, resolve_target

    target = resolve_target(what, load_registry())
    if target.name is not None and canonical(target.name) == "mirplug":
        err_console.print(escape(f"'{what}' is built into mirplug; nothing to install"), highlight=False)
        return "mirplug"
    if target.source != "registry":
        err_console.print(f"[yellow]warning:[/] {escape(UNLISTED_WARNING.format(what=what))}", highlight=False,
                          soft_wrap=True)
        if not yes and not typer.confirm("Install it anyway?", default=False, err=True):
            err_console.print("not installed")
            raise typer.Exit(1)
    name = pip_install(target, upgrade=upgrade, editable=editable)
    record(ManifestEntry(name=name, requirement=target.requirement, editable=editable, source=target.source))
    err_console.print(escape(f"installed {name}; it is recorded for 'mirplug plugins restore'"), highlight=False)
    return name


def uninstall_plugin(name: str) -> str:
    """pip-uninstall a plugin given by registry name, manifest name or distribution name; forget it."""
    from mirplug.cli.common import err_console
    from mirplug.installer import (
        InstallError,
        canonical,
        distribution_of,
        forget,
        installed_version,
        load_registry,
        read_manifest,
        registry_entry_of,
        run_pip,
    )
    if canonical(name) == "mirplug":
        raise InstallError("refusing to uninstall mirplug itself; use pip for that")
    entry = registry_entry_of(name, load_registry())
    distribution = (distribution_of(entry) if entry else None) or distribution_of_plugin(name) or name
    recorded = {canonical(e.name) for e in read_manifest()}
    if canonical(distribution) == "mirplug":
        raise InstallError(f"'{name}' is built into mirplug and cannot be uninstalled on its own")
    installed = installed_version(distribution) is not None
    if not installed and canonical(distribution) not in recorded:
        raise InstallError(f"plugin '{name}' is not installed; 'mirplug plugins' lists what is")
    if installed:
        run_pip(["uninstall", "--yes", distribution], f"uninstall {distribution}")
    forget(distribution)
    err_console.print(escape(f"uninstalled {distribution}"), highlight=False)
    return distribution


def distribution_of_plugin(name: str) -> str | None:
    """The distribution that provides the plugin (entry point) called ``name``, if one does."""
    from importlib import metadata

    from mirplug.plugins import ENTRY_POINT_GROUP

    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name == name and entry_point.dist is not None:
            return str(entry_point.dist.metadata["Name"])
    return None


def restore_plugins() -> int:
    """Reinstall every plugin of the manifest (no questions: each was confirmed when first installed)."""
    from mirplug.cli.common import err_console
    from mirplug.installer import Target, manifest_requirement, pip_install, read_manifest

    entries = read_manifest()
    if not entries:
        err_console.print("no plugins recorded; nothing to restore")
        return 0
    for entry in entries:  # every entry checked before pip runs for any
        manifest_requirement(entry)
    for entry in entries:
        pip_install(Target(entry.requirement, entry.source, None, entry.name), editable=entry.editable)
    err_console.print(escape(f"restored {len(entries)} plugin(s): {', '.join(e.name for e in entries)}"),
                      highlight=False)
    return len(entries)


def register(app: typer.Typer) -> None:
    """Add ``install`` and ``uninstall`` to ``app``."""

    @app.command("install")
    def install_command(
        what: Annotated[str, typer.Argument(help="a name from registry.yaml, a pip requirement or a local path",
                                            metavar="NAME|REQUIREMENT|PATH")],
        upgrade: Annotated[bool, typer.Option("--upgrade", "-U", help="upgrade if already installed")] = False,
        editable: Annotated[bool, typer.Option("--editable", "-e", help="install a local folder in editable mode")] = False,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask before installing unlisted plugins")] = False,
    ) -> None:
        """Install a plugin with pip into the environment mirplug runs in, and record it."""
        install_plugin(what, upgrade=upgrade, editable=editable, yes=yes)

    @app.command("uninstall")
    def uninstall_command(
        name: Annotated[str, typer.Argument(help="plugin name (as in 'mirplug plugins'), registry name or distribution")],
    ) -> None:
        """Uninstall a plugin with pip and remove it from the manifest."""
        uninstall_plugin(name)
