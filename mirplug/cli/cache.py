"""``mirplug extract`` and ``mirplug cache info|clear``: the feature cache from the command line.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.markup import escape

WORKERS_HELP = ("worker processes (0: threads in this process for a thread-safe representation, else one "
                "process per core, up to 2; 1: this process only)")
EXTRACT_HELP = (
    "key=value overrides choosing the dataset and representation (and a frozen pretrained backbone, whose "
    "embeddings are cached too), as for 'mirplug run', e.g. data=audiofolder data.path=DIR representation=cqt "
    "representation.n_bins=72; engine=ray [engine.address=auto|ray://HOST:PORT] [engine.workers=N] does it as a "
    "Ray Data pipeline"
)


def _size(n_bytes: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n_bytes < 1024 or unit == "GiB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024  # type: ignore[assignment]
    return f"{n_bytes} B"


def register(app: typer.Typer) -> None:
    """Add ``extract`` and the ``cache`` group to ``app``."""

    @app.command("extract")
    def extract_command(
        overrides: Annotated[Optional[list[str]], typer.Argument(help=EXTRACT_HELP, show_default=False)] = None,
        workers: Annotated[int, typer.Option("--workers", min=0, help=WORKERS_HELP)] = 0,
    ) -> None:
        """Compute features (and frozen-backbone embeddings) of every clip once and cache them for later runs."""
        from mirplug.cli.common import catalog_with_warnings, err_console
        from mirplug.engines import split_engine
        from mirplug.errors import ConfigError
        from mirplug.extract import extract

        engine, rest = split_engine(list(overrides or []))
        if engine.ray and workers:
            raise ConfigError(f"--workers {workers} sets this machine's worker processes; with engine=ray give "
                              f"engine.workers={workers} (Ray Data actors) instead")
        if engine.ray:
            from mirplug.engines.ray_engine import check_ray

            check_ray()  # Ray missing: one line before anything is read
        catalog_with_warnings()  # one warning line per broken plugin, before the work starts
        result = extract(rest, err_console, workers, engine)
        for row in result.skipped:
            err_console.print(f"[yellow]skipped[/] {escape(row['path'])}: {escape(row['reason'])}", highlight=False)
        counts = result.counts
        embeddings = (f"; embeddings: {counts['embeddings_computed']} computed, {counts['embeddings_loaded']} from "
                      f"the cache" if counts["embeddings_computed"] or counts["embeddings_loaded"] else "")
        typer.echo(
            f"extracted {result.clips} clips ({counts['features_computed']} computed, "
            f"{counts['features_loaded']} from the cache, {len(result.skipped)} skipped{embeddings}) "
            f"in {result.wall_seconds:.2f} s: {result.clips_per_second:.1f} clips/s, "
            f"realtime factor {result.realtime_factor:.0f}x"
        )

    cache_app = typer.Typer(help="Inspect or clear the feature cache.", no_args_is_help=True)
    app.add_typer(cache_app, name="cache")

    @cache_app.command("info")
    def info_command() -> None:
        """List the cached feature sets (settings, clips, size), fitted generators and generated datasets."""
        from rich.console import Console
        from rich.table import Table

        from mirplug.cache import (
            cache_info,
            dataset_info,
            datasets_root,
            features_root,
            generator_info,
            generators_root,
            remembered_hashes,
        )

        folders = cache_info()
        console = Console(width=160)
        table = Table(title=escape(f"feature cache: {features_root()}"), title_justify="left")
        for column in ("folder", "clips", "size", "settings"):
            table.add_column(column, justify="right" if column in {"clips", "size"} else "left")
        for folder in folders:
            settings = folder.settings
            if settings is None:
                what = ("settings.json missing or damaged (written again by the next run that caches here; "
                        "'mirplug cache clear' removes the folder)")
            elif "embeddings" in settings:
                what = f"{settings['embeddings']} embeddings (frozen) {settings.get('options', {})}"
            elif "representation" in settings:
                what = f"{settings.get('representation')} {settings.get('options', {})}"
            else:
                what = (f"decoded windows at {settings.get('sample_rate')} Hz, {settings.get('window_samples')} "
                        f"samples, up to {settings.get('max_windows')}")
            table.add_row(escape(folder.name), str(folder.entries), _size(folder.size_bytes), escape(what))
        console.print(table)
        total = sum(f.size_bytes for f in folders)
        typer.echo(f"{len(folders)} folders, {sum(f.entries for f in folders)} entries, {_size(total)}; "
                   f"content hashes remembered for {remembered_hashes()} files")
        generators, generator_bytes = generator_info()
        typer.echo(f"{generators} fitted generators ({_size(generator_bytes)}) in {generators_root()}")
        datasets, clips, dataset_bytes = dataset_info()
        typer.echo(f"{datasets} generated datasets ({clips} clips, {_size(dataset_bytes)}) in {datasets_root()}")

    @cache_app.command("clear")
    def clear_command() -> None:
        """Delete every cached feature, decoded window, remembered hash, fitted generator and generated dataset."""
        from mirplug.cache import cache_clear, datasets_root, features_root, generators_root
        from mirplug.errors import MirplugError

        cleared = cache_clear()
        typer.echo(f"removed {cleared.entries} entries ({_size(cleared.entry_bytes)}) from {features_root()}, "
                   f"{cleared.generators} fitted generators ({_size(cleared.generator_bytes)}) from "
                   f"{generators_root()} and {cleared.datasets} generated datasets ({cleared.dataset_files} clips, "
                   f"{_size(cleared.dataset_bytes)}) from {datasets_root()}")
        if cleared.in_use:
            typer.echo(f"kept, being built by another mirplug process right now: {', '.join(cleared.in_use)}")
        if cleared.failed:
            raise MirplugError(f"could not remove {len(cleared.failed)} path(s), first {cleared.failed[0]}; "
                               f"check their permissions and run 'mirplug cache clear' again")
