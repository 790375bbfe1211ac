"""The composition kind's protocol for real, on small samples of Matbench's two tasks: `cv` under one
parent run with a child per outer fold, a prediction for every row of each fold, test targets that
cannot change a prediction, and a task folder outside the checkout that trains, runs `cv` and predicts."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from physml.cli import main
from physml.tasks import get_task
from physml.tasks.composition.cv import fold_run, outer_folds, run_cv

pytestmark = pytest.mark.integration
PROJECTS = Path(__file__).resolve().parents[3] / "projects"
ROWS = 300  # the quick preset's sample


@pytest.fixture
def tracking(mlflow_server, data_root, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    monkeypatch.setenv("PHYSML_DATA_DIR", str(data_root))
    mlflow.set_tracking_uri(mlflow_server.url)
    return MlflowClient(mlflow_server.url)


@pytest.mark.parametrize("name", ["expt_gap", "expt_is_metal"])
def test_cv_predicts_every_row_of_every_fold_under_one_parent(tracking, name):
    task = get_task(name)
    config = task.load_config(preset="quick", overrides={"experiment": f"cv-{name}", "registry.log_model": False})
    data = task.load_data(config)
    result = run_cv(task, config, "gbm", data)
    _, folds = outer_folds(task, data, config.seed)
    sizes = result.predictions.groupby("fold").size()
    assert sizes.tolist() == [len(rows) for rows in folds] and sizes.sum() == ROWS
    assert set(result.predictions["id"]) == set(data.ids)  # every row once
    parent = tracking.get_run(result.parent_run_id)
    assert parent.info.status == "FINISHED" and parent.data.params["split"] == "matbench-v0.1"
    metric = task.spec.metric
    assert parent.data.metrics[metric] == pytest.approx(np.mean(result.per_fold))
    assert parent.data.metrics[f"{metric}_std"] == pytest.approx(np.std(result.per_fold))  # population std
    children = tracking.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'", max_results=10
    )
    assert sorted(int(run.data.tags["cv.fold"]) for run in children) == list(range(len(folds)))
    assert all(run.info.status == "FINISHED" for run in children)
    for run in children:  # each child scored its own fold: its test part is that fold
        assert int(run.data.params["n_test"]) == len(folds[int(run.data.tags["cv.fold"])])
    history = tracking.get_metric_history(parent.info.run_id, f"fold_{metric}")
    assert [m.value for m in sorted(history, key=lambda m: m.step)] == pytest.approx(result.per_fold)
    folder = mlflow.artifacts.download_artifacts(f"runs:/{parent.info.run_id}/predictions.csv")
    logged = pd.read_csv(folder)
    assert list(logged.columns[:4]) == ["mbid", "fold", "target", "prediction"] and len(logged) == ROWS


def test_test_fold_targets_never_reach_the_fit(tracking):
    """Blank the outer test fold's targets before fitting: every prediction stays the same."""
    task = get_task("expt_gap")
    config = task.load_config(preset="quick", overrides={"experiment": "cv-blanked", "registry.log_model": False})
    data = task.load_data(config)
    protocol, folds = outer_folds(task, data, config.seed)
    target = data.target.copy()
    target.iloc[folds[0]] = 0.0
    blanked = dataclasses.replace(data, target=target)
    with mlflow.start_run():
        honest = fold_run(task, config, "gbm", data, 0, folds[0], protocol).predictions
        again = fold_run(task, config, "gbm", blanked, 0, folds[0], protocol).predictions
    np.testing.assert_array_equal(honest["prediction"], again["prediction"])


def test_a_task_folder_outside_the_checkout_trains_runs_cv_and_predicts(tracking, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "my_tasks" / "my_gap"
    shutil.copytree(PROJECTS / "expt_gap", folder)
    spec = yaml.safe_load((folder / "task.yaml").read_text()) | {"name": "my_gap"}
    (folder / "task.yaml").write_text(yaml.safe_dump(spec))
    monkeypatch.setenv("PHYSML_PROJECTS_DIR", str(tmp_path / "my_tasks"))
    assert get_task("my_gap").project_dir == folder
    assert main(["my_gap", "train", "--model", "hurdle", "--preset", "quick"]) == 0  # its config.yaml's model
    assert main(["my_gap", "cv", "--preset", "quick", "--fold", "0"]) == 0
    assert "mean ± std" in capsys.readouterr().out
    client = tracking
    parent = client.search_runs(
        [client.get_experiment_by_name("my_gap").experiment_id], "params.split = 'matbench-v0.1'"
    )
    assert [run.data.params["model"] for run in parent] == ["hurdle"]
    model = "models:/my_gap-hurdle/1"
    assert main(["my_gap", "predict", "--formula", "Fe2O3", "--formula", "UO2", "--model", model]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith(("Fe2O3", "UO2"))]
    assert len(lines) == 2 and all("gap = " in line and "eV [" in line for line in lines)
    values = [float(line.split("gap = ")[1].split()[0]) for line in lines]
    assert all(np.isfinite(values))


def test_a_formula_that_cannot_be_read_is_one_line(tracking, capsys):
    assert main(["expt_gap", "predict", "--formula", "Xx2O3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["physml: error: formula 'Xx2O3': unknown element 'Xx'"]


SMALL_STRONG = ["data.max_rows=400", "gbm.n_estimators=60", "gbm.early_stopping_rounds=10", "registry.log_model=false"]


@pytest.mark.parametrize("name", ["expt_gap", "expt_is_metal"])
def test_the_strong_preset_cross_fits_and_scores_its_validation_part_out_of_fold(tracking, name):
    """`--preset strong` (the Matbench recipe) on a small sample: all431 features, 5 boosters (pairs for the
    hurdle) cross-fitted, the hurdle's intervals stratified by P(non-zero) and never below zero."""
    sets = [arg for setting in SMALL_STRONG for arg in ("--set", setting)]
    assert main([name, "cv", "--preset", "strong", "--fold", "0", "--seed", "3", *sets]) == 0
    experiment = tracking.get_experiment_by_name(get_task(name).load_config().experiment)
    (parent,) = tracking.search_runs([experiment.experiment_id], "params.split = 'matbench-v0.1'", max_results=1)
    assert parent.data.params["feature_set"] == "all431" and parent.info.status == "FINISHED"
    (child,) = tracking.search_runs([experiment.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert int(child.data.params["n_features"]) == 431 and child.data.params["folds"] == "5"
    history = tracking.get_metric_history(
        child.info.run_id, "fold5/nonzero/val_logloss" if name == "expt_gap" else "fold5/val_logloss"
    )
    assert history, "the fifth cross-fitted member reported its held-out fold"
    predictions = pd.read_csv(mlflow.artifacts.download_artifacts(f"runs:/{parent.info.run_id}/predictions.csv"))
    report = Path(mlflow.artifacts.download_artifacts(f"runs:/{parent.info.run_id}/report.md")).read_text()
    assert "Paired per fold" in report and "RF-SCM/Magpie" in report
    if name == "expt_gap":  # the intervals pooled over the folds, per stratum of P(non-zero)
        assert "Intervals pooled over the folds" in report and "P(non-zero) 0.9-1" in report
    if name == "expt_gap":
        assert child.data.params["threshold"] == "0.65" and child.data.params["colsample_bytree"] == "0.3"
        assert (predictions["low"] >= 0).all() and (predictions["low"] <= predictions["prediction"]).all()
        assert (predictions["prediction"] <= predictions["high"]).all()
        assert 0.6 <= parent.data.metrics["pooled_interval_coverage"] <= 1
        assert any(key.startswith("test_interval_width/p0.9-1") for key in child.data.metrics)
    else:
        assert 0.6 <= child.data.metrics["val_balanced_accuracy"] <= 1
        assert set(predictions["prediction"]) <= {0, 1}
