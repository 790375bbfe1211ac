"""EpochMetricLog: per-epoch metrics batched over time reach the test server with their own steps,
in as few requests as the interval allows, and survive a failing fit."""

from __future__ import annotations

import time

import mlflow
import pytest
from mlflow import MlflowClient

from physml.tracking.epochs import EpochMetricLog, flush_seconds_from_env


def history(run_id: str, key: str) -> dict[int, float]:
    return {m.step: m.value for m in MlflowClient().get_metric_history(run_id, key)}


def test_batched_epochs_arrive_with_their_steps_in_few_requests(tracking):
    mlflow.set_experiment("test-epochs")
    with mlflow.start_run() as run, EpochMetricLog(flush_seconds=3600) as log_epoch:
        for epoch in range(1, 31):
            log_epoch(epoch, {"loss": 1.0 / epoch, "val_loss": 2.0 / epoch})
            if epoch == 1:  # the first epoch goes out at once (the UI shows the run is alive)
                assert history(run.info.run_id, "loss") == {1: 1.0}
        assert log_epoch.requests == 1 and len(log_epoch.pending) == 58
    assert log_epoch.requests == 2 and not log_epoch.pending  # the rest when the fit ends
    loss = history(run.info.run_id, "loss")
    assert sorted(loss) == list(range(1, 31))
    assert loss[7] == pytest.approx(1 / 7) and history(run.info.run_id, "val_loss")[30] == pytest.approx(2 / 30)
    timestamps = [m.timestamp for m in MlflowClient().get_metric_history(run.info.run_id, "loss")]
    assert max(timestamps) - min(timestamps) < 60_000 and min(timestamps) > (time.time() - 600) * 1000


def test_interval_zero_sends_every_epoch(tracking):
    mlflow.set_experiment("test-epochs")
    with mlflow.start_run() as run, EpochMetricLog(flush_seconds=0) as log_epoch:
        for epoch in range(1, 6):
            log_epoch(epoch, {"loss": float(epoch)})
            assert sorted(history(run.info.run_id, "loss")) == list(range(1, epoch + 1))
    assert log_epoch.requests == 5


def test_a_failing_fit_keeps_its_epochs_and_its_own_error(tracking):
    mlflow.set_experiment("test-epochs")
    with pytest.raises(ZeroDivisionError), mlflow.start_run() as run, EpochMetricLog(flush_seconds=3600) as log_epoch:
        for epoch in range(1, 4):
            log_epoch(epoch, {"loss": float(epoch)})
        raise ZeroDivisionError
    assert sorted(history(run.info.run_id, "loss")) == [1, 2, 3]
    assert MlflowClient().get_run(run.info.run_id).info.status == "FAILED"


def test_large_batches_are_split_at_mlflows_limit(tracking):
    mlflow.set_experiment("test-epochs")
    with mlflow.start_run() as run, EpochMetricLog(flush_seconds=3600) as log_epoch:
        log_epoch(1, {"warm": 0.0})
        for epoch in range(1, 4):
            log_epoch(epoch, {f"m{i}": float(i * epoch) for i in range(450)})  # 1350 metrics: a flush at 1000
    assert log_epoch.requests >= 3
    assert history(run.info.run_id, "m449") == {1: 449.0, 2: 898.0, 3: 1347.0}


def test_flush_interval_from_the_environment(monkeypatch):
    monkeypatch.setenv("PHYSML_METRICS_FLUSH_SECONDS", "0.5")
    assert flush_seconds_from_env() == 0.5
    for bad in ("soon", "-1", "nan"):
        monkeypatch.setenv("PHYSML_METRICS_FLUSH_SECONDS", bad)
        with pytest.raises(ValueError, match="PHYSML_METRICS_FLUSH_SECONDS"):
            flush_seconds_from_env()
    with pytest.raises(RuntimeError, match="active MLflow run"):
        EpochMetricLog(flush_seconds=1)
