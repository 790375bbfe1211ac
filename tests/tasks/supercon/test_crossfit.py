"""Cross-fitting (`gbm.folds`): members on all folds but one, out-of-fold validation predictions, and
an ensemble that blends a cross-fitted member on those (never on the rows it fitted)."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from sklearn.linear_model import LinearRegression
from sklearn.tree import DecisionTreeRegressor

from physml.cli import main
from physml.data.splits import fold_indices
from physml.tasks import get_task
from physml.tasks.composition.crossfit import CrossFitted
from physml.tasks.composition.ensemble import fit_stack, make_stack
from physml.tasks.composition.out_of_fold import validation_predictions
from physml.tasks.supercon.train import make_split

EXPERIMENT = "test-supercon-crossfit"


def fitted_cross(X, y, validation_rows, k=4):
    """A cross-fitted deep tree (it memorises the rows it fits: in-sample error 0)."""
    model = CrossFitted(DecisionTreeRegressor(), k, seed=0)
    folds = fold_indices(len(y), "random", k, 0)
    return model.fit(X, y, folds, lambda i, member, X_fit, y_fit, held: member.fit(X_fit, y_fit), validation_rows)


def test_out_of_fold_predictions_come_from_the_member_that_never_saw_the_row():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    y = X @ [1.0, -2.0, 0.5] + rng.normal(scale=0.5, size=400)
    model = fitted_cross(X, y, slice(300, 400))
    folds = fold_indices(len(y), "random", 4, 0)
    for member, (_, held_rows) in zip(model.members_, folds):
        np.testing.assert_allclose(model.oof_[held_rows], member.predict(X[held_rows]))
    np.testing.assert_allclose(model.validation_oof_, model.oof_[300:])
    np.testing.assert_allclose(model.predict(X), np.mean([m.predict(X) for m in model.members_], axis=0))
    in_sample = np.sqrt(np.mean((model.predict(X[300:]) - y[300:]) ** 2))
    honest = np.sqrt(np.mean((validation_predictions(model, X[300:]) - y[300:]) ** 2))
    assert honest > 2 * in_sample  # each member memorised 3/4 of these rows: their mean is optimistic


def test_an_ensemble_blends_a_cross_fitted_member_on_its_out_of_fold_predictions():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 3))
    y = X @ [1.0, -2.0, 0.5] + rng.normal(scale=0.5, size=600)
    train, val = slice(0, 450), slice(450, 600)
    tree = fitted_cross(X, y, val)  # fitted on train + val, as gbm.folds does
    linear = LinearRegression().fit(X[train], y[train])
    stack = make_stack([("tree", tree), ("linear", linear)])
    fit_stack(stack, X[val], y[val])
    honest = np.column_stack([tree.validation_oof_, linear.predict(X[val])])
    expected = LinearRegression(positive=True).fit(honest, y[val])
    np.testing.assert_allclose(stack.final_estimator_.coef_, expected.coef_, atol=1e-9)
    # scikit-learn's prefit blend would have trusted the tree's in-sample fit on these rows
    assert stack.final_estimator_.coef_[1] > 0.5


@pytest.mark.integration
def test_cross_fitted_gbm_run_scores_validation_out_of_fold_and_serves_the_mean(tracking, supercon_dir, supercon_data):
    args = ["supercon", "train", "--model", "gbm", "--preset", "quick", "--experiment", EXPERIMENT]
    assert main([*args, "--set", "gbm.folds=3", "--no-register", "--data-dir", str(supercon_dir)]) == 0
    client = MlflowClient()
    (run,) = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    metrics = run.data.metrics
    assert run.info.status == "FINISHED" and run.data.params["folds"] == "3"
    for fold in (1, 2, 3):  # each member's curve on its held-out fold
        assert len(client.get_metric_history(run.info.run_id, f"fold{fold}/val_rmse")) >= 3
        assert metrics[f"fold{fold}/boosted_rounds"] == 60
    assert 0.80 <= metrics["test_r2"] <= 0.95 and abs(metrics["test_interval_coverage"] - 0.9) <= 0.03

    loaded = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    config = get_task("supercon").load_config(preset="quick")
    split = make_split(config, supercon_data)
    predictions = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/predictions/test_predictions.json")
    logged = np.asarray(predictions["data"])[:50, 1].astype(float)
    np.testing.assert_allclose(loaded.predict(split.X_test.head(50))["Tc"], logged, rtol=1e-4, atol=1e-3)
    # the served model saw the validation rows: its error there is below the logged out-of-fold one
    in_sample = np.sqrt(np.mean((loaded.predict(split.X_val)["Tc"].to_numpy() - split.y_val.to_numpy()) ** 2))
    assert in_sample < metrics["val_rmse"] - 0.5
