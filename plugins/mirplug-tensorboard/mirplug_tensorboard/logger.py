"""The TensorBoard logger: one event file per run, written with ``torch.utils.tensorboard.SummaryWriter``.

Scalars, per fold (a k-fold run prefixes every tag with ``fold_N/``):

- ``train/loss``, ``validation/loss`` and ``validation/<main metric>`` at every epoch (step = epoch),
- ``test/<metric>`` for every scalar test metric, once the fold is scored (step = its best epoch),

and, as text, the run's config (at the start) and its final metrics (at the end). Open them with
``tensorboard --logdir runs/`` (every run folder holds its ``tensorboard/`` folder).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mirplug import hookimpl


def scalars(metrics: dict[str, Any]) -> dict[str, float]:
    """The top-level numbers of ``metrics`` (no flags, lists or nested tables)."""
    return {key: float(value) for key, value in metrics.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)}


class TensorBoardLogger:
    """Writes a run's event files; built per run with the ``logger.tensorboard.*`` options."""

    def __init__(self, log_dir: str | None = None, flush_secs: int = 30) -> None:
        self.log_dir, self.flush_secs = log_dir, flush_secs
        self.writer: Any = None
        self.folds = 1

    def tag(self, fold: int, name: str) -> str:
        return f"fold_{fold}/{name}" if self.folds > 1 else name

    @hookimpl
    def mirplug_run_start(self, config: dict[str, Any], run_folder: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        folder = Path(self.log_dir) if self.log_dir else Path("tensorboard")
        self.folds = int(config.get("eval", {}).get("folds", 1) or 1)
        self.writer = SummaryWriter(log_dir=str(run_folder / folder), flush_secs=self.flush_secs)
        self.writer.add_text("config", "```\n" + json.dumps(config, indent=2, default=str) + "\n```", 0)

    @hookimpl
    def mirplug_epoch_end(self, fold: int, epoch: int, train: dict[str, float], validation: dict[str, float]) -> None:
        for split, values in (("train", train), ("validation", validation)):
            for name, value in values.items():
                self.writer.add_scalar(self.tag(fold, f"{split}/{name}"), value, epoch)

    @hookimpl
    def mirplug_evaluation_end(self, fold: int, metrics: dict[str, Any]) -> None:
        step = int(metrics.get("best_epoch", 0) or 0)
        for name, value in scalars(metrics).items():
            if not name.startswith(("n_", "epochs_", "best_", "optimizer_")):
                self.writer.add_scalar(self.tag(fold, f"test/{name}"), value, step)

    @hookimpl
    def mirplug_run_end(self, metrics: dict[str, Any], status: str) -> None:
        if self.writer is None:
            return
        if metrics:
            self.writer.add_text("metrics", "```\n" + json.dumps(metrics, indent=2, default=str) + "\n```", 0)
        self.writer.add_text("status", status, 0)
        self.writer.close()
        self.writer = None
