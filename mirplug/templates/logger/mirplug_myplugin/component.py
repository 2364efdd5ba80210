"""The logger 'myplugin': one object per run, whose methods are mirplug's lifecycle hooks.

A run that chooses it (``logger=myplugin``) builds it with its options, registers it for that run only,
and calls the hooks below; each may take any subset of the arguments its hook offers (see
``mirplug/hookspecs.py``). A hook that raises is reported in one warning line and the run goes on.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from mirplug import hookimpl


class CsvLogger:
    """Appends ``fold, epoch, train_loss, validation_loss, validation_<metric>`` rows to a CSV file."""

    def __init__(self, file: str = "epochs.csv") -> None:
        self.file = file
        self.path: Path | None = None
        self.rows = 0

    @hookimpl
    def mirplug_run_start(self, run_folder: Path) -> None:
        self.path = Path(run_folder) / self.file
        self.rows = 0

    @hookimpl
    def mirplug_epoch_end(self, fold: int, epoch: int, train: dict[str, float],
                          validation: dict[str, float]) -> None:
        assert self.path is not None, "mirplug_run_start comes first"
        values = {"fold": fold, "epoch": epoch, "train_loss": train["loss"],
                  **{f"validation_{name}": value for name, value in validation.items()}}
        new = not self.path.exists()
        with open(self.path, "a", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=list(values))
            if new:
                writer.writeheader()
            writer.writerow(values)
        self.rows += 1

    @hookimpl
    def mirplug_run_metrics(self) -> dict[str, Any]:
        # stored in metrics.json under plugins -> logger:myplugin
        return {"epochs_logged": self.rows}
