"""Commands contributed by plugins through the ``mirplug_register_commands`` hook.

Each plugin gets a Typer app of its own; its commands are then copied into ``mirplug``
unless the name is taken (a built-in command or an earlier plugin's), which is skipped with
a warning naming the plugin. A plugin whose hook raises is reported in one warning line and
the command line keeps working.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import os
from typing import Any

import typer
from rich.markup import escape


def command_names(app: typer.Typer) -> set[str]:
    """The names of ``app``'s commands and command groups, as typed on the command line."""
    from typer.main import get_command_name

    names = set()
    for command in app.registered_commands:
        names.add(command.name or get_command_name(command.callback.__name__))  # type: ignore[union-attr]
    for group in app.registered_groups:
        name = group.name or group.typer_instance.info.name
        if isinstance(name, str):
            names.add(name)
    return names


def add_plugin_commands(app: typer.Typer, host: Any | None = None) -> list[str]:
    """Call every plugin's ``mirplug_register_commands`` in isolation; return the warnings printed."""
    from mirplug.cli.common import err_console
    from mirplug.plugins import load_plugins, trace

    host = host if host is not None else load_plugins()
    taken = command_names(app)
    warnings: list[str] = []
    for impl in host.manager.hook.mirplug_register_commands.get_hookimpls():
        plugin = host.manager.get_name(impl.plugin) or "?"
        own = typer.Typer()
        try:
            impl.function(app=own)
        except Exception as exc:  # a broken plugin must never take the command line down
            warnings.append(f"plugin '{plugin}' failed (hook mirplug_register_commands): {type(exc).__name__}: {exc}")
            if os.environ.get("MIRPLUG_DEBUG"):
                raise
            continue
        added = []
        for command in own.registered_commands:
            from typer.main import get_command_name

            name = command.name or get_command_name(command.callback.__name__)  # type: ignore[union-attr]
            if name in taken:
                warnings.append(f"plugin '{plugin}' tried to add command '{name}', which already exists; skipped")
                continue
            app.registered_commands.append(command)
            taken.add(name)
            added.append(name)
        for group in own.registered_groups:
            name = group.name or group.typer_instance.info.name
            if not isinstance(name, str) or name in taken:
                warnings.append(f"plugin '{plugin}' tried to add command group '{name}', which already exists or "
                                f"has no name; skipped")
                continue
            app.registered_groups.append(group)
            taken.add(name)
            added.append(name)
        trace(f"{plugin}.mirplug_register_commands() -> [{', '.join(added)}]")
    for line in warnings:
        err_console.print(f"[yellow]warning:[/] {escape(line)}", highlight=False, soft_wrap=True)
    return warnings
