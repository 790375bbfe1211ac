"""Helpers for tuning tests: run `physml tune` as a user would (a subprocess), read what the server has."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

from mlflow import MlflowClient

from tests.helpers.processes import subprocess_env


def physml_tune(
    server_url: str, *args: str, timeout: int = 900, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`physml tune ARGS` against the server (more variables in `env`); it must exit 0."""
    command = [str(Path(sys.executable).parent / "physml"), "tune", *args]
    environment = {**subprocess_env(server_url), **(env or {})}
    result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=timeout)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result


def search_runs(server_url: str, experiment: str, name_prefix: str = "search-"):
    """(parent run, its trial child runs, the retrained-best child run or None) of the newest search."""
    client = MlflowClient(server_url)
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    runs = client.search_runs([experiment_id], max_results=500, order_by=["attributes.start_time DESC"])
    parent = next(r for r in runs if r.info.run_name.startswith(name_prefix))
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    trials = [r for r in children if "ray.trial_id" in r.data.tags]
    retrained = [r for r in children if "ray.trial_id" not in r.data.tags]
    return parent, trials, (retrained[0] if retrained else None)


def one_finished_run_per_trial(trials: list, retries_expected: bool = False) -> list:
    """The FINISHED run of each Tune trial. Any other run of a trial must be closed and say why: an
    earlier attempt of a trial Tune retried (FailureConfig) is tagged `trial.retried` (and its error),
    one still RUNNING after the search is tagged `orphaned`. Unexpected ones are reported as warnings
    (they show in the test summary), so their cause is never silent."""
    by_trial: dict[str, list] = {}
    for run in trials:
        by_trial.setdefault(run.data.tags["ray.trial_id"], []).append(run)
    finished = []
    for trial_id, runs in by_trial.items():
        done = [r for r in runs if r.info.status == "FINISHED"]
        assert len(done) == 1, (trial_id, [(r.info.run_id, r.info.status, r.data.tags) for r in runs])
        for run in (r for r in runs if r.info.status != "FINISHED"):
            why = (
                "retried"
                if run.data.tags.get("trial.retried") == "true"
                else "orphaned"
                if run.data.tags.get("orphaned")
                else None
            )
            assert run.info.status in ("FAILED", "KILLED") and why, (run.info, run.data.tags)
            if not retries_expected:
                warnings.warn(
                    f"trial {trial_id}: run {run.info.run_id} ({why}, attempt {run.data.tags.get('trial.attempt')}) "
                    f"ended {run.info.status}: {run.data.tags.get('trial.error') or run.data.tags.get('trial.ray_error')}",
                    stacklevel=2,
                )
        finished.append(done[0])
    return finished


def s3_client_arguments(env: dict[str, str]) -> dict[str, str]:
    """boto3.client("s3", ...) arguments for the S3 server that `env` (the s3_storage fixture's) points at."""
    return {
        "endpoint_url": env["AWS_ENDPOINT_URL"],
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        "region_name": env["AWS_DEFAULT_REGION"],
    }
