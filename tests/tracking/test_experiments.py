"""Experiments and models named by the user: created race-safely, missing ones named in one line."""

from __future__ import annotations

import threading
import uuid

import mlflow
from mlflow import MlflowClient

from physml.cli import main
from physml.tracking.runs import use_experiment

THREADS = 6


def test_many_runs_creating_one_new_experiment_at_once_all_land_in_it(tracking):
    """MLflow's set_experiment checks, then creates: the losers of that race used to fail (or log
    into Default). use_experiment fetches the experiment the winner created."""
    for _ in range(3):
        name = f"test-race-{uuid.uuid4().hex[:8]}"
        barrier = threading.Barrier(THREADS)
        ids, errors = [], []

        def start(name=name, barrier=barrier, ids=ids, errors=errors):
            barrier.wait()
            try:
                experiment_id = use_experiment(name)
                with mlflow.start_run(experiment_id=experiment_id) as run:
                    ids.append(run.info.experiment_id)
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=start) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        expected = MlflowClient().get_experiment_by_name(name).experiment_id
        assert ids == [expected] * THREADS


def test_a_missing_model_is_one_line(tracking, capsys):
    assert main(["supercon", "predict", "--formula", "MgB2", "--model", "models:/no-such-model@champion"]) == 2
    err = capsys.readouterr().err
    assert "physml: error: cannot load the model models:/no-such-model@champion" in err and "Traceback" not in err


def test_predict_starts_no_empty_server(tmp_path, monkeypatch, capsys):
    """No server runs and none is named: predict says so instead of starting one that has no model."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("PHYSML_HOME", str(tmp_path))
    assert main(["supercon", "predict", "--formula", "MgB2"]) == 2
    assert "no tracking server" in capsys.readouterr().err
    assert not (tmp_path / "server.json").exists()
