"""mirplug-mlflow: the ``mlflow`` logger (``mirplug run ... logger=mlflow``).

Registers one :class:`~mirplug.specs.LoggerSpec`; the logger itself is in :mod:`mirplug_mlflow.logger`
and is imported (with MLflow) only when a run chooses it.
"""

from __future__ import annotations

from mirplug import LoggerSpec, Option, hookimpl


@hookimpl
def mirplug_register_loggers() -> list[LoggerSpec]:
    return [LoggerSpec(
        name="mlflow",
        summary="MLflow tracking: the config as params, per-epoch and test metrics, run files as artifacts",
        factory="mirplug_mlflow.logger:MlflowLogger",
        options=(
            Option(name="tracking_uri", type=str, default=None,
                   help="where runs are tracked (a server, sqlite:///..., file:...); default: a file store in the "
                        "run folder's mlruns/"),
            Option(name="experiment", type=str, default="mirplug", help="the MLflow experiment (created if needed)"),
            Option(name="run_name", type=str, default=None, help="the MLflow run's name (default: the run folder's)"),
            Option(name="artifacts", type=bool, default=True,
                   help="log config.yaml, metrics.json and predictions.csv as artifacts at the end of the run"),
        ),
        license="MIT",
    )]
