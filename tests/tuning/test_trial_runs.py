"""Bookkeeping of trial runs on the real server: a retried trial closes its earlier attempt, an
attempt that raised says why, and nothing a search leaves behind stays RUNNING."""

from __future__ import annotations

import pickle

import mlflow
import pytest
from mlflow import MlflowClient

from physml.tuning.trainable import record_interruption
from physml.tuning.trial_runs import (
    LastStep,
    close_earlier_attempts,
    close_running_trial_runs,
    last_failure,
    retried_attempts,
    summary_line,
)


@pytest.fixture
def search_parent(tracking):
    client = MlflowClient(tracking)
    experiment_id = mlflow.set_experiment("test-trial-runs").experiment_id
    parent = client.create_run(experiment_id, run_name="search-test")
    return client, experiment_id, parent.info.run_id


def trial_run(client, experiment_id, parent_id, trial_id, attempt=1):
    tags = {"mlflow.parentRunId": parent_id, "ray.trial_id": trial_id, "trial.attempt": str(attempt)}
    return client.create_run(experiment_id, tags=tags).info.run_id


def test_a_retried_trial_closes_its_earlier_attempt(search_parent):
    client, experiment_id, parent_id = search_parent
    cut_off = trial_run(client, experiment_id, parent_id, "t1")  # its worker was SIGKILLed: left RUNNING
    raised = trial_run(client, experiment_id, parent_id, "t1", attempt=2)
    client.set_terminated(raised, "KILLED")
    other = trial_run(client, experiment_id, parent_id, "t2")

    assert close_earlier_attempts(client, experiment_id, parent_id, "t1") == 2
    assert client.get_run(cut_off).info.status == "FAILED"
    assert client.get_run(raised).info.status == "KILLED"  # already ended: status kept
    assert {client.get_run(r).data.tags.get("trial.retried") for r in (cut_off, raised)} == {"true"}
    assert client.get_run(other).info.status == "RUNNING" and "trial.retried" not in client.get_run(other).data.tags
    assert retried_attempts(client, experiment_id, parent_id) == 2
    assert close_earlier_attempts(client, experiment_id, parent_id, "t3") == 0


def test_runs_left_running_after_a_search_are_closed_as_orphaned(search_parent):
    client, experiment_id, parent_id = search_parent
    finished = trial_run(client, experiment_id, parent_id, "t1")
    client.set_terminated(finished, "FINISHED")
    left = trial_run(client, experiment_id, parent_id, "t2")

    assert close_running_trial_runs(client, experiment_id, parent_id, "orphaned") == 1
    assert client.get_run(left).info.status == "KILLED" and client.get_run(left).data.tags["orphaned"] == "true"
    assert client.get_run(finished).info.status == "FINISHED" and "orphaned" not in client.get_run(finished).data.tags
    assert client.get_run(parent_id).info.status == "RUNNING"  # the search's own run is not a trial


def test_an_attempt_that_raised_records_the_error_and_its_traceback(search_parent, tmp_path):
    client, experiment_id, parent_id = search_parent
    with mlflow.start_run(experiment_id=experiment_id, parent_run_id=parent_id) as run:
        try:
            {}["dnn.units"]
        except KeyError as exc:
            record_interruption(exc)
    assert client.get_run(run.info.run_id).data.tags["trial.error"] == "KeyError: 'dnn.units'"
    text = tmp_path / "trial_error.txt"
    mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="trial_error.txt", dst_path=str(tmp_path))
    assert "Traceback" in text.read_text() and "KeyError" in text.read_text()


RAY_ERROR_FILE = """Failure # 1 (occurred at 2026-11-25_21-01-02)
The actor 7c38 is unavailable: The actor is temporarily unavailable: RpcError: Socket closed rpc_code: 14.
Failure # 2 (occurred at 2026-11-25_21-03-04)
ray::ImplicitFunc.train() (pid=4242, ip=127.0.0.1, actor_id=9f1e)
  File "/site-packages/physml/tasks/supercon.py", line 80, in train
    raise ValueError("dnn.units must be positive")
ValueError: dnn.units must be positive
"""


def test_the_newest_failure_of_a_tune_error_file_and_its_summary(tmp_path):
    error_file = tmp_path / "error.txt"
    error_file.write_text(RAY_ERROR_FILE)
    newest = last_failure(str(error_file))
    assert newest.startswith("ray::ImplicitFunc.train()") and "Failure #" not in newest
    assert summary_line(newest) == "ValueError: dnn.units must be positive"
    first = RAY_ERROR_FILE.split("Failure # 2")[0]
    error_file.write_text(first)
    assert summary_line(last_failure(str(error_file))).startswith("The actor 7c38 is unavailable")
    assert last_failure(str(tmp_path / "missing.txt")) is None and last_failure(None) is None


class FakeTrial:
    def __init__(self, trial_id: str, done: bool):
        self.trial_id, self.done = trial_id, done

    def is_finished(self) -> bool:
        return self.done


def test_the_last_step_is_read_from_a_restored_callback_too():
    """A resumed search runs the callbacks Tune unpickles from tuner.pkl, not this process's: what a
    copy of LastStep sees at a step is what the driver reads after the fit."""
    LastStep.reset()
    restored = pickle.loads(pickle.dumps(LastStep()))
    restored.on_step_end(iteration=7, trials=[FakeTrial("a", True), FakeTrial("b", False)])
    assert LastStep.unfinished == ["b"] and LastStep.finished == 1
    restored.on_step_end(iteration=8, trials=[FakeTrial("a", True), FakeTrial("b", True)])
    assert LastStep.unfinished == [] and LastStep.finished == 2
    LastStep.reset()
