"""The tracking server is SIGKILLed while a real training run logs to it. Restarted, the run
finishes with every epoch's metrics (MLflow's client retries); left dead, the run ends with one
clear error line, and what was logged before the kill is still there once the server is back."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import UNAUTHENTICATED

from physml.cli import tracking_failure
from physml.tracking import server
from tests.helpers.processes import free_port, subprocess_env

pytestmark = pytest.mark.integration  # kills and restarts a real server mid-run

EPOCHS = 25


@pytest.fixture
def own_server(tmp_path):
    home = tmp_path / "home"
    info = server.start(home=home, port=free_port())
    yield home, info
    server.stop(home=home)


def start_training(url: str, supercon_dir, experiment: str, epochs: int = EPOCHS, **extra_env: str) -> subprocess.Popen:
    # every epoch sent as it ends (not batched every 2 s): the server is killed early in the fit, with
    # most epochs still to come, however fast the host
    env = subprocess_env(url) | {"PHYSML_METRICS_FLUSH_SECONDS": "0"} | extra_env
    command = [
        "physml",
        "supercon",
        "train",
        "--model",
        "dnn",
        "--preset",
        "quick",
        "--experiment",
        experiment,
        "--set",
        f"dnn.epochs={epochs}",
        "--set",
        "dnn.batch_size=512",
        "--set",
        "evaluation.explain=false",
        "--set",
        "evaluation.plots=false",
        "--set",
        "registry.register=false",
        "--data-dir",
        str(supercon_dir),
    ]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_epochs(client: MlflowClient, experiment: str, count: int, process: subprocess.Popen, timeout=300) -> str:
    """Poll the server until the run has logged `count` epochs; returns its run id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        found = client.get_experiment_by_name(experiment)
        runs = client.search_runs([found.experiment_id]) if found else []
        if runs and len(client.get_metric_history(runs[0].info.run_id, "loss")) >= count:
            return runs[0].info.run_id
        time.sleep(0.3)
    raise AssertionError(f"the run did not log {count} epochs within {timeout} s")


def kill(info: server.ServerInfo) -> None:
    os.killpg(info.pid, signal.SIGKILL)
    while server.is_healthy(info.url, timeout=0.5):
        time.sleep(0.1)


def test_run_survives_a_server_restart(own_server, supercon_dir):
    home, info = own_server
    client = MlflowClient(info.url)
    training = start_training(info.url, supercon_dir, "fault-restart")
    run_id = wait_for_epochs(client, "fault-restart", 3, training)
    kill(info)
    time.sleep(3)  # the run keeps training and its client keeps retrying meanwhile
    server.start(home=home, port=info.port)
    _out, err = training.communicate(timeout=600)
    assert training.returncode == 0, err[-3000:]
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and "test_r2" in run.data.metrics
    steps = sorted(m.step for m in client.get_metric_history(run_id, "loss"))
    assert steps == list(range(1, EPOCHS + 1))  # every epoch, before, during and after the outage


def test_a_server_that_stays_down_ends_the_run_in_bounded_time_and_the_spool_loses_nothing(
    own_server, supercon_dir, tmp_path
):
    """The server is killed for real and not restarted: the command gives up after the bounded wait
    (PHYSML_SERVER_WAIT_SECONDS) with one line; the epochs it could not send and the run's end are in
    the spool; once the server is back, `physml sync` sends them: every epoch, no run left RUNNING."""
    home, info = own_server
    client = MlflowClient(info.url)
    client_home = tmp_path / "client-home"
    wait = 6
    training = start_training(
        info.url,
        supercon_dir,
        "fault-down",
        # far more epochs than are ever reached: with epochs sent in 1 s batches, 25 of them once ended
        # (flushed) on a fast host before the kill, and the spool had no epoch to keep
        epochs=1000,
        PHYSML_SERVER_WAIT_SECONDS=str(wait),
        PHYSML_HOME=str(client_home),
        PHYSML_METRICS_FLUSH_SECONDS="1",  # batched: epochs pile up unsent between flushes
    )
    run_id = wait_for_epochs(client, "fault-down", 3, training)
    logged = {m.step for m in client.get_metric_history(run_id, "loss")}
    kill(info)
    killed = time.monotonic()
    _out, err = training.communicate(timeout=600)
    gave_up_after = time.monotonic() - killed
    assert training.returncode == 2, err[-3000:]
    assert f"cannot reach the tracking server {info.url}" in err and "Traceback" not in err
    assert "physml sync" in err and gave_up_after < 10 * wait, (gave_up_after, err[-2000:])
    spooled = client_home / "spool" / run_id
    assert (spooled / "metrics.jsonl").exists() and (spooled / "status.jsonl").exists()

    server.start(home=home, port=info.port)
    assert client.get_run(run_id).info.status == "RUNNING"  # the server never heard the end
    env = subprocess_env(info.url) | {"PHYSML_HOME": str(client_home)}
    sync = subprocess.run(["physml", "sync"], env=env, capture_output=True, text=True, timeout=300)
    assert sync.returncode == 0 and f"run {run_id}: replayed" in sync.stdout, sync.stdout + sync.stderr
    steps = sorted(m.step for m in client.get_metric_history(run_id, "loss"))
    assert steps == list(range(1, max(steps) + 1)), steps  # every epoch, no gap
    assert max(steps) > max(logged)  # including the epochs the server never got before it died
    run = client.get_run(run_id)
    assert run.info.status == "FAILED" and "MlflowException" in run.data.tags["physml.error"]
    assert "replayed" in run.data.tags["physml.spool"] and not spooled.exists()


def nothing_listens_on(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_a_dead_server_on_a_port_with_401_in_it_is_not_taken_for_a_login_failure(monkeypatch):
    """CI once met port 40151: the old check read the "401" in the URL as HTTP 401."""
    port = next(p for p in range(40100, 40200) if nothing_listens_on(p))
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with pytest.raises(MlflowException) as failure:
        MlflowClient(url).search_experiments()
    assert tracking_failure(failure.value).startswith(f"cannot reach the tracking server {url}")
    unauthenticated = MlflowException("API request failed with error code 401 != 200", error_code=UNAUTHENTICATED)
    assert "(401 unauthorized)" in tracking_failure(unauthenticated)
