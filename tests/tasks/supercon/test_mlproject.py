"""`mlflow run . -e supercon --env-manager local` against the real server: the project run
succeeds and the model run is its child."""

from tests.helpers.processes import mlflow_run_project


def test_mlflow_run_supercon_entry_point(mlflow_server, supercon_dir):
    params = {"model": "linear", "preset": "quick", "split": "grouped", "data_dir": supercon_dir}
    parent, (child,) = mlflow_run_project(mlflow_server.url, "supercon", params, "test-mlproject")
    assert parent.info.status == child.info.status == "FINISHED"
    assert parent.data.params["model"] == "linear"  # the MLproject parameters
    assert child.data.params["split"] == "grouped" and child.data.params["model"] == "linear"
    assert 0.5 < child.data.metrics["test_r2"] < 0.8
