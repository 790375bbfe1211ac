"""`mlflow run . -e supercon --env-manager local` against the real server: the project run
succeeds and the model run is its child."""

import subprocess
import sys
from pathlib import Path

from mlflow import MlflowClient

from tests.helpers.processes import REPO_ROOT, subprocess_env


def test_mlflow_run_supercon_entry_point(mlflow_server, supercon_dir):
    venv_bin = Path(sys.executable).parent  # the entry point runs `physml`, as in an activated venv
    env = subprocess_env(mlflow_server.url)
    mlflow_cli = str(venv_bin / "mlflow")
    result = subprocess.run(
        [mlflow_cli, "run", str(REPO_ROOT), "-e", "supercon", "--env-manager", "local",
         "-P", "model=linear", "-P", "preset=quick", "-P", "split=grouped", "-P", f"data_dir={supercon_dir}",
         "--experiment-name", "test-mlproject"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(mlflow_server.url)
    experiment = client.get_experiment_by_name("test-mlproject")
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    (child,) = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.info.status == child.info.status == "FINISHED"
    assert parent.data.params["model"] == "linear"  # the MLproject parameters
    assert child.data.params["split"] == "grouped" and child.data.params["model"] == "linear"
    assert 0.5 < child.data.metrics["test_r2"] < 0.8
