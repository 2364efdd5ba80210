"""The mlflow logger's runs, read back with MLflow's own client from the local file store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow_support import drive, history, private_dirs, tiny_run  # noqa: F401

from mirplug.hookspecs import hookimpl

pytest.importorskip("mlflow")


@pytest.fixture
def client_of(monkeypatch: pytest.MonkeyPatch):
    """``client_of(uri)``: an MlflowClient reading the file store at ``uri``."""
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps the file store behind this switch
    return lambda uri: MlflowClient(tracking_uri=uri)


def only_run(client, experiment: str = "mirplug"):
    found = client.get_experiment_by_name(experiment)
    (run,) = client.search_runs([found.experiment_id])
    return run


def test_a_run_with_logger_mlflow_is_tracked_in_its_run_folder(tmp_path: Path, client_of) -> None:
    result = tiny_run(tmp_path, "logger=mlflow", "train.lr=0.003")
    client = client_of((result.folder / "mlruns").as_uri())
    run = only_run(client)
    assert run.info.status == "FINISHED" and run.info.run_name == result.folder.name
    params = run.data.params
    assert params["task.name"] == "genre" and params["train.lr"] == "0.003" and params["data.name"] == "audiofolder"
    assert json.loads(params["logger"]) == [{"name": "mlflow", "tracking_uri": None, "experiment": "mirplug",
                                            "run_name": None, "artifacts": True}]
    epochs = history(result.folder)
    for key in ("train_loss", "validation_loss", "validation_macro_f1"):
        logged = client.get_metric_history(run.info.run_id, key)
        assert [m.step for m in logged] == [1, 2, 3]
        assert [m.value for m in logged] == pytest.approx([row[key] for row in epochs])
    (test,) = client.get_metric_history(run.info.run_id, "test_macro_f1")
    assert test.step == result.metrics["best_epoch"] and test.value == pytest.approx(result.metrics["macro_f1"])
    assert run.data.metrics["accuracy"] == pytest.approx(result.metrics["accuracy"])
    artifacts = {item.path for item in client.list_artifacts(run.info.run_id)}
    assert artifacts == {"config.yaml", "metrics.json", "predictions.csv"}


def test_k_fold_names_a_given_tracking_uri_and_a_failed_run(tmp_path: Path, client_of) -> None:
    from mirplug_mlflow.logger import MlflowLogger

    uri = (tmp_path / "shared-store").as_uri()
    logger = MlflowLogger(tracking_uri=uri, experiment="genre-study", run_name="first", artifacts=False)
    assert drive(logger, tmp_path / "run", epochs=2, folds=2) == []
    client = client_of(uri)
    run = only_run(client, "genre-study")
    assert run.info.run_name == "first" and run.data.params["seed"] == "3" and run.data.params["eval.folds"] == "2"
    assert [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "fold_2/train_loss")] \
        == [(1, 3.0), (2, 2.5)]
    assert "train_loss" not in run.data.metrics  # every per-epoch metric names its fold
    assert run.data.metrics["macro_f1"] == pytest.approx(0.6)

    class Failing(MlflowLogger):
        @hookimpl
        def mirplug_epoch_end(self) -> None:  # fails once the run is open
            raise RuntimeError("lost")

    failing = Failing(tracking_uri=uri, experiment="failing", artifacts=False)
    warnings = drive(failing, tmp_path / "run2", epochs=1)
    assert len(warnings) == 1 and "plugin 'logger:under-test' failed in mirplug_epoch_end" in warnings[0]
    assert only_run(client, "failing").info.status == "FINISHED"  # a hook that fails loses nothing else


def test_the_file_store_is_allowed_for_the_logger_s_own_calls_only(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from mirplug_mlflow.logger import MlflowLogger

    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    assert drive(MlflowLogger(artifacts=False), tmp_path, epochs=1) == []
    assert (tmp_path / "mlruns").is_dir() and "MLFLOW_ALLOW_FILE_STORE" not in os.environ


def test_the_logger_passes_mirplug_validate(tmp_path: Path) -> None:
    from mirplug.testing import FAIL, check_plugin

    results = check_plugin("mlflow", workdir=tmp_path)
    assert [r for r in results if r.status == FAIL] == []
    assert {r.component for r in results} == {"logger:mlflow"}
