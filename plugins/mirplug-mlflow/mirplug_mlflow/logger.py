"""The MLflow logger, on ``MlflowClient`` (no global active run: runs of a sweep never mix).

- params: the resolved config, flattened (``task.name``, ``train.lr``, ``backbone.channels``, ...);
  lists (the augmenters, the loggers) as JSON;
- metrics: ``train_loss``, ``validation_loss`` and ``validation_<main metric>`` at every epoch (step =
  epoch), ``test_<metric>`` once a fold is scored (step = its best epoch), a k-fold run prefixing them
  with ``fold_N/``; at the end the run's top-level numbers under their own names (``macro_f1``, with
  k-fold ``macro_f1_ci95`` too);
- artifacts: ``config.yaml``, ``metrics.json`` and ``predictions.csv`` (option ``artifacts``);
- status: ``FINISHED``, ``FAILED`` or ``KILLED`` (interrupted), as the run ended.

MLflow 3 keeps its file store in maintenance mode behind ``MLFLOW_ALLOW_FILE_STORE``: for a ``file:``
tracking URI (the default, ``mlruns/`` in the run folder) the logger allows it for its own calls only.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mirplug import hookimpl

STATUS = {"finished": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
BATCH = 100  # MLflow takes at most 100 params (and 1000 metrics) per log_batch
MAX_PARAM = 6000  # characters of a param value MLflow keeps


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"train": {"lr": 0.002}}`` -> ``{"train.lr": "0.002"}``; lists as JSON; ``None`` values left out."""
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            flat[name] = json.dumps(value, default=str)[:MAX_PARAM]
        elif value is not None:
            flat[name] = str(value)[:MAX_PARAM]
    return flat


def scalars(metrics: dict[str, Any]) -> dict[str, float]:
    """The top-level numbers of ``metrics`` (no flags, lists or nested tables)."""
    return {key: float(value) for key, value in metrics.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)}


class MlflowLogger:
    """Tracks one mirplug run as one MLflow run; built per run with the ``logger.mlflow.*`` options."""

    def __init__(self, tracking_uri: str | None = None, experiment: str = "mirplug", run_name: str | None = None,
                 artifacts: bool = True) -> None:
        self.tracking_uri, self.experiment, self.run_name, self.artifacts = tracking_uri, experiment, run_name, artifacts
        self.client: Any = None
        self.run_id = ""
        self.folds = 1

    @contextmanager
    def store(self) -> Iterator[None]:
        """MLflow's file store allowed while this logger talks to a ``file:`` URI (and only then)."""
        if not str(self.tracking_uri).startswith("file:") or "MLFLOW_ALLOW_FILE_STORE" in os.environ:
            yield
            return
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
        try:
            yield
        finally:
            os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)

    def log(self, metrics: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(key, value, now, step) for key, value in metrics.items()]
        with self.store():
            for first in range(0, len(items), BATCH):
                self.client.log_batch(self.run_id, metrics=items[first:first + BATCH])

    def name(self, fold: int, key: str) -> str:
        return f"fold_{fold}/{key}" if self.folds > 1 else key

    @hookimpl
    def mirplug_run_start(self, config: dict[str, Any], run_folder: Path) -> None:
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        self.tracking_uri = self.tracking_uri or (Path(run_folder).resolve() / "mlruns").as_uri()
        self.folds = int(config.get("eval", {}).get("folds", 1) or 1)
        with self.store():
            self.client = MlflowClient(tracking_uri=self.tracking_uri)
            found = self.client.get_experiment_by_name(self.experiment)
            experiment = found.experiment_id if found is not None else self.client.create_experiment(self.experiment)
            run = self.client.create_run(experiment, run_name=self.run_name or Path(run_folder).name,
                                         tags={"mirplug.run_folder": str(run_folder)})
            self.run_id = run.info.run_id
            params = [Param(key, value) for key, value in flatten(config).items()]
            for first in range(0, len(params), BATCH):
                self.client.log_batch(self.run_id, params=params[first:first + BATCH])

    @hookimpl
    def mirplug_epoch_end(self, fold: int, epoch: int, train: dict[str, float], validation: dict[str, float]) -> None:
        values = {f"train_{key}": value for key, value in train.items()}
        values.update({f"validation_{key}": value for key, value in validation.items()})
        self.log({self.name(fold, key): value for key, value in values.items()}, epoch)

    @hookimpl
    def mirplug_evaluation_end(self, fold: int, metrics: dict[str, Any]) -> None:
        tests = {self.name(fold, f"test_{key}"): value for key, value in scalars(metrics).items()
                 if not key.startswith(("n_", "epochs_", "best_", "optimizer_"))}
        self.log(tests, int(metrics.get("best_epoch", 0) or 0))

    @hookimpl
    def mirplug_run_end(self, run_folder: Path, metrics: dict[str, Any], status: str) -> None:
        if self.client is None:
            return
        if metrics:
            self.log(scalars(metrics), 0)
        with self.store():
            if self.artifacts:
                for name in ("config.yaml", "metrics.json", "predictions.csv"):
                    if (Path(run_folder) / name).is_file():
                        self.client.log_artifact(self.run_id, str(Path(run_folder) / name))
            self.client.set_terminated(self.run_id, STATUS.get(status, "FAILED"))
