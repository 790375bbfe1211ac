"""A third task from a folder under tests/, with nothing edited or installed into physml: found
through the `physml.tasks` entry point of its own dist-info on the path, then trained, tuned,
compared and promoted through the platform's commands."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from physml.cli import main
from physml.tasks import get_task, registered, task_names

SITE = Path(__file__).resolve().parents[1] / "third_task" / "site"
EXPERIMENT = "test-third-task"


@pytest.fixture
def third_task(monkeypatch):
    """The plug-in's folder on this process's path and on Ray workers' (PYTHONPATH)."""
    monkeypatch.syspath_prepend(str(SITE))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(SITE), os.environ.get("PYTHONPATH")])))
    return get_task("toyreg")


def test_the_plugin_is_found_only_when_its_folder_is_on_the_path(third_task):
    assert "toyreg" in task_names()
    assert type(third_task).__module__ == "physml_toyreg"
    assert third_task.metric_mode("val_mse") == "min"
    assert set(registered()) >= {"supercon", "galaxy", "toyreg"}


def test_help_lists_it_from_the_registry(third_task, capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "toyreg" in out and "physml toyreg train --preset quick" in out
    with pytest.raises(SystemExit):
        main(["tune", "--help"])
    assert "toyreg" in capsys.readouterr().out


def test_train_tune_compare_promote(third_task, tracking, capsys, tmp_path):
    client = MlflowClient(tracking)
    # two trainings: the second (more epochs) is the candidate, the first the champion
    base = ["toyreg", "train", "--experiment", EXPERIMENT]
    assert main([*base, "--preset", "quick", "--set", "mlp.units=4"]) == 0
    assert main([*base, "--set", "mlp.epochs=10"]) == 0
    experiment_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
    trained = client.search_runs([experiment_id], order_by=["attributes.start_time ASC"])
    assert [r.info.status for r in trained] == ["FINISHED", "FINISHED"]
    assert all(r.data.tags["task"] == "toyreg" and 0 < r.data.metrics["val_mse"] < 2 for r in trained)
    assert len(client.get_metric_history(trained[1].info.run_id, "val_mse")) == 10

    # a 2-point grid search through Ray Tune; mode comes from the task (the spec leaves it out)
    code = main(["tune", "toyreg", "--search", "grid", "--max-concurrent", "2", "--storage", str(tmp_path / "ray"),
                 "--set", f"experiment={EXPERIMENT}", "--no-retrain"])  # fmt: skip
    assert code == 0
    runs = client.search_runs([experiment_id], max_results=100)
    trials = [r for r in runs if "ray.trial_id" in r.data.tags]
    assert len(trials) == 2 and all(r.info.status == "FINISHED" for r in trials)
    assert sorted(int(r.data.params["units"]) for r in trials) == [4, 32]
    parent = next(r for r in runs if r.info.run_name.startswith("search-"))
    assert parent.data.params["search.mode"] == "min"
    assert parent.data.metrics["best_val_mse"] == pytest.approx(min(r.data.metrics["val_mse"] for r in trials))

    # compare sorts val_mse ascending: the task declares it lower-is-better
    capsys.readouterr()
    assert main(["compare", EXPERIMENT, "--metric", "val_mse", "--top", "10", "--no-log"]) == 0
    table = capsys.readouterr().out
    ranked = [line.split()[-1] for line in table.splitlines()[2:] if line.strip()]
    by_server = {r.info.run_id: r.data.metrics["val_mse"] for r in runs if "val_mse" in r.data.metrics}
    assert len(ranked) == len(by_server) == 4
    assert [by_server[run_id] for run_id in ranked] == sorted(by_server.values())

    # promote: the champion moves only if the candidate's val_mse is lower
    champion, candidate = trained[0].data.metrics["val_mse"], trained[1].data.metrics["val_mse"]
    code = main(["promote", "toyreg-mlp", "--metric", "val_mse"])
    assert code == (0 if candidate < champion else 1)
    version = client.get_model_version_by_alias("toyreg-mlp", "champion")
    assert version.run_id == (trained[1] if candidate < champion else trained[0]).info.run_id
    tags = client.get_model_version("toyreg-mlp", client.get_model_version_by_alias("toyreg-mlp", "candidate").version).tags
    assert "lower is better" in tags["promotion.champion.reason"]


def test_mlflow_run_generic_entry_point(mlflow_server):
    """`mlflow run . -e train -P task=toyreg`: the generic entry point trains a plug-in task."""
    import subprocess

    from tests.helpers.processes import REPO_ROOT, subprocess_env

    env = {**subprocess_env(mlflow_server.url), "PYTHONPATH": str(SITE)}
    mlflow_cli = str(Path(sys.executable).parent / "mlflow")
    result = subprocess.run(
        [mlflow_cli, "run", str(REPO_ROOT), "-e", "train", "--env-manager", "local", "-P", "task=toyreg",
         "-P", "preset=quick", "--experiment-name", "test-generic-entry"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(mlflow_server.url)
    runs = client.search_runs([client.get_experiment_by_name("test-generic-entry").experiment_id])
    (parent,) = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    (child,) = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.data.params["task"] == "toyreg" and child.data.tags["task"] == "toyreg"
    assert child.info.status == "FINISHED" and len(client.get_metric_history(child.info.run_id, "val_mse")) == 4
