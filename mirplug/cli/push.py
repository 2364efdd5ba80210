"""``mirplug push``: upload a saved (augmented) dataset to the Hugging Face Hub with a dataset card.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""

    @app.command("push")
    def push_command(
        folder: Annotated[Path, typer.Argument(help="a folder written by 'mirplug augment ... out=DIR'")],
        repo_id: Annotated[str, typer.Argument(help="the Hub dataset repo, OWNER/NAME")],
        private: Annotated[bool, typer.Option("--private", help="create the repo as private")] = False,
        dry_run: Annotated[bool, typer.Option(
            "--dry-run", help="write exactly what would be uploaded into a local folder; upload nothing")] = False,
        dry_run_dir: Annotated[Optional[Path], typer.Option(
            "--dry-run-dir", help="where --dry-run writes the files (default: FOLDER-dry-run beside FOLDER)")] = None,
        revision: Annotated[Optional[str], typer.Option("--revision", help="branch to push to")] = None,
        token: Annotated[Optional[str], typer.Option(
            "--token", help="Hub token (default: HF_TOKEN, then the huggingface_hub login)")] = None,
    ) -> None:
        """Push the dataset as Parquet shards plus a dataset card (README.md) built from its provenance."""
        from rich.console import Console

        from mirplug.hub import push

        preview = None
        if dry_run or dry_run_dir:
            preview = str(dry_run_dir or folder.resolve().with_name(f"{folder.resolve().name}-dry-run"))
        summary = push(folder, repo_id, private=private, dry_run=preview, revision=revision, token=token)
        console = Console()
        if summary["dry_run"]:
            console.print(escape(f"dry run: {len(summary['files'])} files that would be uploaded to {repo_id} "
                                 f"are in {summary['folder']}:"), highlight=False)
        elif summary["commit"] is None:
            console.print(escape(f"{repo_id} already holds this data: nothing changed"), highlight=False)
        else:
            console.print(escape(f"pushed {len(summary['files'])} files to {repo_id} (commit {summary['commit'][:12]}):"),
                          highlight=False)
        for name in summary["files"]:
            console.print(f"  {escape(name)}", highlight=False)
