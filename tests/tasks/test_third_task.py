"""A third task from a folder under tests/, with nothing edited or installed into physml: found
through the `physml.tasks` entry point of its own dist-info on the path, then trained, tuned,
compared and promoted through the platform's commands."""

from __future__ import annotations

import os
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


def test_train_tune_compare_promote(third_task, tracking, capsys, tmp_path, monkeypatch):
    client = MlflowClient(tracking)
    # two trainings: the second (more epochs) is the candidate, the first the champion; the
    # experiment comes from MLFLOW_EXPERIMENT_NAME (the first) and MLFLOW_EXPERIMENT_ID (the second)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", EXPERIMENT)
    assert main(["toyreg", "train", "--preset", "quick", "--set", "mlp.units=4"]) == 0
    experiment_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", experiment_id)
    assert main(["toyreg", "train", "--set", "mlp.epochs=10"]) == 0
    trained = client.search_runs([experiment_id], order_by=["attributes.start_time ASC"])
    assert [r.info.status for r in trained] == ["FINISHED", "FINISHED"]
    assert all(r.data.tags["task"] == "toyreg" and 0 < r.data.metrics["val_mse"] < 2 for r in trained)
    assert len(client.get_metric_history(trained[1].info.run_id, "val_mse")) == 10

    # a 2-point grid search through Ray Tune (into MLFLOW_EXPERIMENT_ID's experiment); its mode
    # comes from the task's declared direction (the spec leaves it out)
    code = main(
        [
            "tune",
            "toyreg",
            "--search",
            "grid",
            "--max-concurrent",
            "2",
            "--storage",
            str(tmp_path / "ray"),
            "--no-retrain",
        ]
    )
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
    tags = client.get_model_version(
        "toyreg-mlp", client.get_model_version_by_alias("toyreg-mlp", "candidate").version
    ).tags
    assert "lower is better" in tags["promotion.champion.reason"]


def test_mlflow_run_generic_entry_point(mlflow_server):
    """`mlflow run . -e train -P task=toyreg`: the generic entry point trains a plug-in task."""
    from tests.helpers.processes import mlflow_run_project

    params = {"task": "toyreg", "preset": "quick"}
    parent, (child,) = mlflow_run_project(
        mlflow_server.url, "train", params, "test-generic-entry", {"PYTHONPATH": str(SITE)}
    )
    assert parent.data.params["task"] == "toyreg" and child.data.tags["task"] == "toyreg"
    history = MlflowClient(mlflow_server.url).get_metric_history(child.info.run_id, "val_mse")
    assert child.info.status == "FINISHED" and len(history) == 4
