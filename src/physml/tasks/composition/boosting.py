"""The composition kind's boosted model: XGBoost (a published anchor) and its per-round reports.

The boosted model reports every `report_every` rounds through the same per-epoch hooks as the nets'
epochs (the validation part's RMSE: MLflow's per-round curve, a Tune trial's report for ASHA) and
saves its booster to `checkpoints` then, so a restarted trial boosts on from its last one.
"""

from __future__ import annotations

import xgboost
from xgboost import XGBRegressor

from physml.models.callbacks import EpochHook
from physml.models.checkpoints import Checkpoints, Resumed
from physml.tasks.composition.config import GBMParams

BOOSTER_FILE = "booster.json"


def make_gbm(params: GBMParams, seed: int) -> XGBRegressor:
    return XGBRegressor(
        n_estimators=params.n_estimators,
        learning_rate=params.learning_rate,
        max_depth=params.max_depth,
        subsample=params.subsample,
        colsample_bytree=params.colsample_bytree,
        min_child_weight=params.min_child_weight,
        reg_lambda=params.reg_lambda,
        reg_alpha=params.reg_alpha,
        early_stopping_rounds=params.early_stopping_rounds or None,
        objective=f"reg:{params.objective}",
        # one metric, reported each round (val_rmse or val_mae) and read by early stopping: a list of two
        # breaks set_params after the fit in xgboost 3.2 ("Unknown metric function ['rmse', 'mae']")
        eval_metric="mae" if params.objective == "absoluteerror" else "rmse",
        tree_method="hist",
        random_state=seed,
        n_jobs=-1,
    )


def make_gbm_classifier(params: GBMParams, seed: int):
    """XGBoost's classifier with the regressor's settings: the probability of class 1, log loss each round."""
    from xgboost import XGBClassifier

    settings = make_gbm(params, seed).get_params()
    return XGBClassifier(**{**settings, "eval_metric": "logloss", "objective": "binary:logistic"})


class RoundReporter(xgboost.callback.TrainingCallback):
    """Every `every` rounds (and the last): the validation RMSE to the hooks as epoch = rounds done,
    after saving the booster to `checkpoints`. `done` counts the rounds of a booster resumed from."""

    def __init__(
        self, total: int, every: int, hooks: list[EpochHook], checkpoints: Checkpoints | None = None, done: int = 0
    ):
        super().__init__()
        self.total, self.every, self.hooks, self.checkpoints, self.done = total, every, hooks, checkpoints, done
        self.history: dict[str, list[float]] = {}

    def after_iteration(self, model, epoch: int, evals_log) -> bool:
        rounds = self.done + epoch + 1
        if rounds % self.every and rounds != self.total:
            return False
        metrics = {f"val_{name}": float(values[-1]) for name, values in evals_log.get("validation_0", {}).items()}
        for key, value in metrics.items():
            self.history.setdefault(key, []).append(value)
        if self.checkpoints is not None and self.checkpoints.due(rounds, self.total):
            self.checkpoints.save(
                rounds, lambda folder: model.save_model(folder / BOOSTER_FILE), {"history": self.history}
            )
        for hook in self.hooks:
            hook(rounds, metrics)
        return False


def fit_gbm(regressor: XGBRegressor, X, y, validation: tuple, hooks: list[EpochHook], every: int, checkpoints=None):
    """Boost on the training part with early stopping on the validation part, reporting to `hooks`;
    a checkpoint in `checkpoints` is boosted on for the rounds it lacks."""
    total = regressor.n_estimators
    resumed: Resumed | None = checkpoints.resume() if checkpoints else None
    done = min(resumed.epoch, total) if resumed else 0
    reporter = RoundReporter(total, every, hooks, checkpoints, done)
    if resumed is not None:
        reporter.history = {k: list(v) for k, v in resumed.state.get("history", {}).items()}
    booster = str(resumed.folder / BOOSTER_FILE) if resumed else None
    if done >= total:  # saved after its last round: nothing left to boost
        regressor.load_model(booster)
    else:
        regressor.set_params(n_estimators=total - done, callbacks=[reporter])
        try:
            regressor.fit(X, y, eval_set=[validation], verbose=False, xgb_model=booster)
        finally:  # the fitted model keeps its settings, not the callback (it is saved as JSON)
            regressor.set_params(n_estimators=total, callbacks=None)
    regressor.rounds_history_ = reporter.history
    regressor.resumed_rounds_ = done
    return regressor


def booster_rounds(regressor: XGBRegressor) -> dict[str, float]:
    """How many rounds the fitted model boosted and, with early stopping, which one it predicts with."""
    facts = {"boosted_rounds": float(regressor.get_booster().num_boosted_rounds())}
    try:
        facts["best_iteration"] = float(regressor.best_iteration)
    except AttributeError:  # no early stopping
        pass
    return facts
