"""`physml tune` with a local Ray, against the real MLflow server."""

import json

import matplotlib.image as mpimg
import mlflow
from mlflow import MlflowClient

from tests.helpers.processes import mlflow_run_project
from tests.helpers.tuning import physml_tune, search_runs


def decodes(run_id: str, artifact: str, tmp_path) -> bool:
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact, dst_path=str(tmp_path))
    image = mpimg.imread(local)
    return image.ndim == 3 and image.std() > 0.01


def test_grid_search_runs_every_point_records_divergence_and_registers_the_best(
    mlflow_server, tracking, supercon_dir, small_grid, tmp_path
):
    """A 2 x 2 x 2 grid over the study's axes (units, learning rate, layers; the study's own 32 points
    are checked in test_spaces.py) with one learning rate that diverges, run as the MLflow Project's
    `tune` entry point: the project's run is the search's parent, every point runs once on Ray, the
    diverged trials are failed runs tagged as such and the search goes on, and the best point is
    retrained with every artifact and registered as the candidate."""
    spec = small_grid(units=(16, 32), learning_rates=(1e-3, 50.0), layers=(1, 2), epochs=1)
    params = {"search": "grid", "spec": spec, "storage": tmp_path / "ray", "data_dir": supercon_dir}
    params["preset"] = "quick"  # the retrained best's evaluation on the quick preset (SHAP on 40 rows)
    parent, children = mlflow_run_project(mlflow_server.url, "tune", params, "test-tune-grid")
    assert parent.data.tags["mlflow.source.type"] == "PROJECT"  # the project's run, not one physml opened
    trials = [r for r in children if "ray.trial_id" in r.data.tags]
    (retrained,) = [r for r in children if "ray.trial_id" not in r.data.tags]
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["n_trials"] == 8 and parent.data.params["search.searcher"].startswith("grid")
    assert parent.data.metrics["n_diverged"] == 4
    trials = [t for t in trials if t.data.tags.get("trial.retried") != "true"]
    assert len(trials) == 8
    points = {(t.data.params["units"], t.data.params["learning_rate"], t.data.params["layers"]) for t in trials}
    assert len(points) == 8
    assert all(t.data.tags["ray.node_id"] for t in trials)
    for trial in trials:
        if trial.data.params["learning_rate"] == "50.0":
            assert trial.info.status == "FAILED" and trial.data.tags["diverged"] == "true"
        else:
            assert trial.info.status == "FINISHED"
            assert len(MlflowClient().get_metric_history(trial.info.run_id, "val_rmse")) == 1
    assert json.loads(parent.data.tags["best_config"])["dnn.learning_rate"] == 0.001
    assert decodes(parent.info.run_id, "search/grid_heatmap.png", tmp_path)
    # the best config, retrained with every artifact and registered as the candidate
    assert retrained.info.status == "FINISHED"
    assert parent.data.tags["best_run_id"] == retrained.info.run_id
    assert "best_test_r2" in parent.data.metrics
    candidate = MlflowClient().get_model_version_by_alias("supercon-dnn", "candidate")
    assert candidate.run_id == retrained.info.run_id


def test_bayesian_search_with_asha_stops_weak_trials(mlflow_server, tracking, supercon_dir, tmp_path):
    physml_tune(
        mlflow_server.url,
        "supercon",
        "--search",
        "bayes",
        "--num-samples",
        "8",
        "--epochs",
        "9",
        "--set",
        "dnn.batch_size=512",
        "--no-retrain",
        "--set",
        "experiment=test-tune-bayes",
        "--storage",
        str(tmp_path / "ray"),
        "--data-dir",
        str(supercon_dir),
    )
    parent, trials, _ = search_runs(mlflow_server.url, "test-tune-bayes")
    trials = [t for t in trials if t.data.tags.get("trial.retried") != "true"]  # the last attempt of each trial
    assert parent.data.metrics["n_trials"] == 8 and len(trials) == 8
    assert len({t.data.tags["ray.trial_id"] for t in trials}) == 8
    assert parent.data.params["search.searcher"] == "OptunaSearch (TPE)" and parent.data.params[
        "search.scheduler"
    ].startswith("ASHA")
    stopped = [t for t in trials if t.data.tags.get("early_stopped") == "true"]
    assert parent.data.metrics["n_early_stopped"] >= 1 and len(stopped) >= 1
    assert all(t.info.status == "KILLED" for t in stopped)
    assert all(len(MlflowClient().get_metric_history(t.info.run_id, "val_rmse")) < 9 for t in stopped)
    for artifact in ("search/history.png", "search/parallel_coordinates.png", "search/importance.png"):
        assert decodes(parent.info.run_id, artifact, tmp_path), artifact
