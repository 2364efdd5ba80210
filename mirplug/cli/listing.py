"""``mirplug list`` and ``mirplug plugins``: what is installed and what failed to load.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape

KIND_WORDS = {"representations": "representation", "backbones": "backbone", "augmenters": "augmenter",
              "tasks": "task", "datasets": "dataset", "loggers": "logger"}


def _describe(entry: Any) -> dict[str, Any]:
    spec = entry.spec
    info: dict[str, Any] = {
        "name": spec.name, "kind": spec.kind, "plugin": entry.plugin, "summary": spec.summary,
        "license": spec.license,
        "options": [{"name": o.name, "type": o.type.__name__, "default": o.default, "help": o.help,
                     **({"choices": list(o.choices)} if o.choices else {}),
                     **({"minimum": o.minimum} if o.minimum is not None else {}),
                     **({"maximum": o.maximum} if o.maximum is not None else {})} for o in spec.options],
    }
    for extra in ("label_kind", "metrics", "main_metric", "default_dataset", "stage", "expects", "sample_rate"):
        if hasattr(spec, extra):
            value = getattr(spec, extra)
            info[extra] = list(value) if isinstance(value, tuple) else value
    if spec.citation:
        info["citation"] = spec.citation
    return info


def register(app: typer.Typer) -> None:
    """Add the commands to ``app``."""

    @app.command("list")
    def list_command(
        kind: Annotated[Optional[str], typer.Argument(help="representations|backbones|augmenters|tasks|datasets|loggers")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    ) -> None:
        """List the available components and their options."""
        from rich.console import Console
        from rich.table import Table

        from mirplug.cli.common import catalog_with_warnings
        from mirplug.errors import ConfigError, choices_text, did_you_mean

        if kind is not None and kind not in KIND_WORDS and kind not in KIND_WORDS.values():
            raise ConfigError(f"unknown kind '{kind}'{did_you_mean(kind, KIND_WORDS)}; choose one of: "
                              f"{choices_text(KIND_WORDS)}")
        kinds = [KIND_WORDS.get(kind, kind)] if kind else list(KIND_WORDS.values())
        catalog = catalog_with_warnings()
        described = {k: [_describe(e) for e in catalog.all(k)] for k in kinds}
        if as_json:
            typer.echo(json.dumps(described if not kind else described[kinds[0]], indent=2, default=str))
            return
        console = Console(width=160)
        for k in kinds:
            table = Table(title=f"{k}s", title_justify="left")
            table.add_column("name", style="bold")
            table.add_column("summary")
            if k == "task":
                for column in ("label kind", "metrics", "default dataset"):
                    table.add_column(column)
            if k == "augmenter":
                table.add_column("stage")
            table.add_column("options (default)")
            table.add_column("plugin")
            for info in described[k]:
                options = ", ".join(f"{o['name']}={o['default']}" for o in info["options"])
                extra = []
                if k == "task":
                    extra = [info["label_kind"], ", ".join(info["metrics"]), info["default_dataset"]]
                if k == "augmenter":
                    extra = [info["stage"]]
                table.add_row(*(escape(str(cell)) for cell in (info["name"], info["summary"], *extra, options,
                                                                info["plugin"])))
            console.print(table)

    plugins_app = typer.Typer(name="plugins", invoke_without_command=True, no_args_is_help=False)
    app.add_typer(plugins_app)

    @plugins_app.command("restore")
    def restore_command() -> None:
        """Reinstall the plugins recorded by 'mirplug install' (after reinstalling or upgrading mirplug)."""
        from mirplug.cli.install import restore_plugins

        restore_plugins()

    @plugins_app.callback()
    def plugins_command(
        ctx: typer.Context,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
        requirements: Annotated[
            bool, typer.Option("--requirements", help="print the plugins installed with 'mirplug install' as requirements")
        ] = False,
    ) -> None:
        """Show the loaded plugins (distribution, version, components) and those that failed."""
        if ctx.invoked_subcommand is not None:
            return
        if requirements:
            from mirplug.installer import read_manifest, requirements_text

            typer.echo(requirements_text(read_manifest()), nl=False)
            return
        from rich.console import Console
        from rich.table import Table

        from mirplug.catalog import load_catalog

        catalog = load_catalog()
        components: dict[str, list[str]] = {}
        for kind in KIND_WORDS.values():
            for entry in catalog.all(kind):
                components.setdefault(entry.plugin, []).append(f"{kind}:{entry.spec.name}")
        loaded = [{"name": p.name, "distribution": p.distribution, "version": p.version, "builtin": p.builtin,
                   "hooks": p.hooks, "components": components.get(p.name, [])} for p in catalog.host.plugins.values()]
        failed = [{"name": f.name, "distribution": f.distribution, "version": f.version, "stage": f.stage,
                   "error": f.error} for f in catalog.failures]
        if as_json:
            typer.echo(json.dumps({"plugins": loaded, "failed": failed}, indent=2))
            return
        console = Console(width=160)
        table = Table(title="plugins", title_justify="left")
        for column in ("plugin", "distribution", "version", "components"):
            table.add_column(column)
        for info in loaded:
            table.add_row(*(escape(str(cell)) for cell in (info["name"], info["distribution"], info["version"],
                                                            ", ".join(info["components"]))))
        console.print(table)
        if failed:
            broken = Table(title="failed to load", title_justify="left")
            for column in ("plugin", "distribution", "stage", "error"):
                broken.add_column(column)
            for info in failed:
                broken.add_row(*(escape(str(cell)) for cell in (info["name"], f"{info['distribution']} {info['version']}",
                                                                 info["stage"], info["error"])))
            console.print(broken)
