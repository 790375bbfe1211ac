"""A third task from a folder under tests/, with nothing edited or installed into physml: found
through the `physml.tasks` entry point of its own dist-info on the path. The shared suite
(tests/tasks/test_every_task.py) trains, tunes, compares, promotes and serves it like every task."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from physml.cli import main
from physml.tasks import get_task, registered, task_names
from tests.helpers.tasks import PLUGIN_SITE, plugin_on_path


@pytest.fixture
def third_task():
    with plugin_on_path():
        yield get_task("toyreg")


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


def test_mlflow_run_generic_entry_point(mlflow_server):
    """`mlflow run . -e train -P task=toyreg`: the generic entry point trains a plug-in task."""
    from tests.helpers.processes import mlflow_run_project

    params = {"task": "toyreg", "preset": "quick"}
    parent, (child,) = mlflow_run_project(
        mlflow_server.url, "train", params, "test-generic-entry", {"PYTHONPATH": str(PLUGIN_SITE)}
    )
    assert parent.data.params["task"] == "toyreg" and child.data.tags["task"] == "toyreg"
    history = MlflowClient(mlflow_server.url).get_metric_history(child.info.run_id, "val_mse")
    assert child.info.status == "FINISHED" and len(history) == 4
