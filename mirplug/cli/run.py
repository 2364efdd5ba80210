"""``mirplug run``: train and evaluate a model from ``key=value`` overrides, or continue an interrupted run.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from mirplug.catalog import Catalog
    from mirplug.config import RunConfig

OVERRIDES_HELP = (
    "key=value overrides, e.g. task=genre backbone=cnn train.epochs=5 augmenter=gain,noise "
    "data=audiofolder data.path=DIR; see 'mirplug list' for components and their options"
)
INTERRUPTED_EXIT_CODE = 130  # what a shell reports for a command stopped by Ctrl-C (128 + SIGINT)


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""

    @app.command("run")
    def run_command(
        overrides: Annotated[Optional[list[str]], typer.Argument(help=OVERRIDES_HELP, show_default=False)] = None,
        config: Annotated[
            Optional[Path], typer.Option("--config", help="start from a run's config.yaml (overrides still apply)")
        ] = None,
        resume: Annotated[
            Optional[Path], typer.Option("--resume", metavar="RUN_DIR",
                                         help="continue an interrupted run from its config.yaml and last checkpoint")
        ] = None,
    ) -> None:
        """Train and evaluate a model; writes a run folder under runs/."""
        from mirplug.cli.common import catalog_with_warnings, err_console
        from mirplug.config import config_from_dict, resolve
        from mirplug.errors import ConfigError, RunInterrupted
        from mirplug.rundir import read_yaml

        if resume is not None and (overrides or config is not None):
            raise ConfigError("--resume continues a run exactly as it was configured: give it no overrides and no "
                              "--config (to change settings, start a new run with --config RUN_DIR/config.yaml)")
        catalog = catalog_with_warnings()
        if resume is not None:
            resolved = resumable(resume, catalog)
            if resolved is None:
                print(f"{resume} is finished already (run.json is there): nothing to resume; its results are in "
                      f"{resume / 'metrics.json'}", file=sys.stderr)
                return
        else:
            base = config_from_dict(read_yaml(config), str(config)) if config else []
            resolved = resolve(catalog, base + list(overrides or []))
        from mirplug.distributed import launch, launched_by_torchrun

        if resolved.train["processes"] > 1 and not launched_by_torchrun():
            # the same command in train.processes processes, through torchrun (one machine)
            argv = ["run", *(overrides or [])] + (["--config", str(config)] if config else []) + (
                ["--resume", str(resume)] if resume else [])
            raise typer.Exit(launch(resolved.train["processes"], argv))
        from mirplug.runner import run

        try:
            run(resolved, catalog, err_console, resume=resume)
        except RunInterrupted as interrupted:
            print(f"interrupted; continue with mirplug run --resume {interrupted.folder}", file=sys.stderr)
            raise typer.Exit(INTERRUPTED_EXIT_CODE) from None
        except KeyboardInterrupt:
            print("interrupted before the run folder was made; nothing to resume", file=sys.stderr)
            raise typer.Exit(INTERRUPTED_EXIT_CODE) from None


def resumable(folder: Path, catalog: Catalog) -> RunConfig | None:
    """The resolved config of the interrupted run in ``folder``, or None when that run is finished.

    A folder that is not a run, or whose ``config.yaml`` no longer resolves (a plugin gone, an
    option renamed), is a :class:`~mirplug.errors.RunError`.
    """
    from mirplug.config import config_from_dict, resolve
    from mirplug.errors import MirplugError, RunError
    from mirplug.rundir import CONFIG_FILE, is_finished, read_yaml

    if not folder.is_dir():
        raise RunError(f"--resume {folder}: no such folder; pass the folder of an interrupted run (runs/<timestamp>-<task>)")
    if is_finished(folder):
        return None
    if not (folder / CONFIG_FILE).is_file():
        raise RunError(f"--resume {folder}: not a run folder (no {CONFIG_FILE}); pass the folder of an interrupted "
                       f"run (runs/<timestamp>-<task>)")
    try:  # read_yaml says in one line what is wrong with the file (missing, not YAML, not a mapping)
        saved = read_yaml(folder / CONFIG_FILE)
    except MirplugError as exc:
        raise RunError(f"--resume {folder}: its {CONFIG_FILE} cannot be read ({exc})") from None
    try:
        return resolve(catalog, config_from_dict(saved, str(folder / CONFIG_FILE)))
    except MirplugError as exc:
        raise RunError(f"--resume {folder}: its {CONFIG_FILE} no longer resolves: {' '.join(str(exc).split())}") from None
