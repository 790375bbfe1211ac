"""The ensemble (`--model ensemble`): single models stacked by scikit-learn.

Each member (ensemble.members: XGBoost and the dense net by default) is fitted on the training part
exactly as it is alone, early stopping on the validation part. scikit-learn's StackingRegressor,
with the fitted members (cv="prefit") and a non-negative linear regression as its final estimator,
then learns how to blend their predictions on the validation part. Weights that are >= 0 keep the
blend an average of the members' Tc, not a contrast between them; a member that does not help gets
weight 0.

The test part only reports. Because the blend is fitted on the validation part, a run logs each
member's validation RMSE beside the ensemble's and registers the ensemble only where it beats the
best member there (`ensemble.beats_best_member`).
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import StackingRegressor
from sklearn.linear_model import LinearRegression

from physml.evaluation.metrics import regression_metrics
from physml.tasks.composition.out_of_fold import members_of, validation_predictions


def make_stack(members: list[tuple[str, object]]) -> StackingRegressor:
    """The stacking regressor over (name, unfitted single regressor) pairs; `fit_stack` fits it."""
    return StackingRegressor(members, final_estimator=LinearRegression(positive=True), cv="prefit")


def fit_stack(stack: StackingRegressor, X_val, y_val) -> StackingRegressor:
    """The blend on the validation part, its members already fitted (they are not refitted). A
    cross-fitted member saw the validation rows, so the blend learns from its out-of-fold predictions
    there (scikit-learn's prefit stacking would ask the member itself)."""
    stack.fit(np.asarray(X_val), np.asarray(y_val))
    members = np.column_stack([validation_predictions(member, X_val) for _, member in members_of(stack)])
    stack.final_estimator_.fit(members, np.asarray(y_val))
    return stack


def blend_metrics(stack: StackingRegressor, X_val, y_val) -> tuple[dict[str, float], bool]:
    """Each member's validation RMSE and blend weight, the blend's intercept, and the ensemble's
    validation RMSE gain over its best member (K, > 0: better); and whether it beats that member."""
    y = np.asarray(y_val, dtype="float64")
    final = stack.final_estimator_
    metrics: dict[str, float] = {"ensemble_intercept": float(final.intercept_)}
    best = np.inf
    for (name, member), weight in zip(members_of(stack), final.coef_):
        rmse = regression_metrics(y, validation_predictions(member, X_val), "", 0)["rmse"]
        metrics[f"member_val_rmse/{name}"] = rmse
        metrics[f"ensemble_weight/{name}"] = float(weight)
        best = min(best, rmse)
    own = regression_metrics(y, validation_predictions(stack, X_val), "", 0)["rmse"]
    metrics["ensemble_val_gain"] = best - own
    return metrics, own < best
