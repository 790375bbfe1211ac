"""`physml supercon train --model ensemble` for real (quick preset): XGBoost and the dense net fitted as
alone, stacked by a non-negative blend fitted on the validation part, logged as one model that loads
and predicts like the trained pipeline, and registered only because it beat its best member there."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from physml.cli import main
from physml.tasks import get_task
from physml.tasks.composition.models import requirements_of
from physml.tasks.supercon.train import make_split

EXPERIMENT = "test-supercon-ensemble"
NAME = "test-supercon-ensemble"


@pytest.mark.integration
def test_ensemble_blends_its_members_on_the_validation_part(tracking, supercon_dir, supercon_data, capsys):
    args = ["supercon", "train", "--model", "ensemble", "--preset", "quick", "--experiment", EXPERIMENT]
    assert main([*args, "--set", f"registry.names.ensemble={NAME}", "--data-dir", str(supercon_dir)]) == 0
    client = MlflowClient()
    (run,) = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    metrics, params = run.data.metrics, run.data.params
    assert run.info.status == "FINISHED" and params["model"] == "ensemble" and params["members"] == "gbm,dnn"
    assert params["gbm.n_estimators"] == "60" and params["dnn.epochs"] == "3"  # each member's quick settings
    weights = [metrics["ensemble_weight/gbm"], metrics["ensemble_weight/dnn"]]
    assert min(weights) >= 0 and sum(weights) > 0.5
    best_member = min(metrics["member_val_rmse/gbm"], metrics["member_val_rmse/dnn"])
    assert metrics["val_rmse"] < best_member and metrics["ensemble_val_gain"] == pytest.approx(
        best_member - metrics["val_rmse"], abs=1e-6
    )
    assert run.data.tags["ensemble.beats_best_member"] == "true"
    # each member's per-epoch curve under its own name, in the one run
    assert len(client.get_metric_history(run.info.run_id, "dnn/val_rmse")) == 3
    assert client.get_metric_history(run.info.run_id, "gbm/val_rmse")
    assert 0.80 <= metrics["test_r2"] <= 0.97 and 0.5 < metrics["member_test_r2/gbm"] < 0.97

    version = client.get_model_version_by_alias(NAME, "candidate")
    assert version.run_id == run.info.run_id
    loaded = mlflow.pyfunc.load_model(f"models:/{NAME}@candidate")
    task = get_task("supercon")
    config = task.load_config(preset="quick")
    split = make_split(config, supercon_data)
    served = loaded.predict(split.X_test.head(50))
    assert list(served.columns[:3]) == ["Tc", "Tc_low", "Tc_high"]
    predictions = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/predictions/test_predictions.json")
    logged = np.asarray(predictions["data"])[:50, 1].astype(float)  # [true_tc, predicted_tc] rows
    np.testing.assert_allclose(served["Tc"].to_numpy(), logged, rtol=1e-4, atol=1e-3)
    assert set(requirements_of(config, "ensemble")) >= {"xgboost", "keras", "tensorflow"}
