"""supercon regressors: linear regression and the gradient-boosting baseline (XGBoost, the published anchor)."""

from __future__ import annotations

from sklearn.linear_model import LinearRegression
from xgboost import XGBRegressor

from physml.tasks.supercon.config import GBMParams


def make_linear() -> LinearRegression:
    return LinearRegression()


def make_gbm(params: GBMParams, seed: int) -> XGBRegressor:
    return XGBRegressor(
        n_estimators=params.n_estimators,
        learning_rate=params.learning_rate,
        max_depth=params.max_depth,
        subsample=params.subsample,
        colsample_bytree=params.colsample_bytree,
        min_child_weight=params.min_child_weight,
        tree_method="hist",
        random_state=seed,
        n_jobs=-1,
    )
