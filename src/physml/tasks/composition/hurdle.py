"""A model shaped for a target that is exactly zero for many rows (half of Matbench's band gaps).

Two XGBoost models: a classifier of zero or not, and a regressor fitted on the non-zero rows alone.
It predicts 0 where the classifier's probability of non-zero is at most `threshold`, else the
regressor's value (clipped at 0 when no training target is negative). Under the absolute error the
best rule is the median of the mixture: 0 where P(0) > 0.5; `hurdle.threshold` moves that cut (the
strong preset's 0.65 was chosen by inner cross-validation, docs/notes/matbench-inner-cv.md).

Cross-fitted (`gbm.folds: K`, crossfit.py): K pairs over the training and validation parts, pair k
fitting every fold but k and early-stopping on fold k; the model averages the K probabilities and the
K amounts, and keeps each row's out-of-fold probability and prediction (`oof_probability_`, `oof_`):
the validation part's metrics and the conformal intervals are read from them.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone


class ZeroHurdle(RegressorMixin, BaseEstimator):
    def __init__(self, classifier=None, regressor=None, threshold: float = 0.5):
        self.classifier, self.regressor, self.threshold = classifier, regressor, threshold

    def fit(self, X, y):
        """Both models on (X, y), early-stopping on the same rows (the kind fits with fit_hurdle instead,
        validating on its validation part)."""
        X, y = np.asarray(X), np.asarray(y)
        fit_hurdle(self, X, y, (X, y), [], 10)
        return self

    def nonzero_probability(self, X) -> np.ndarray:
        return self.classifier.predict_proba(np.asarray(X))[:, 1]

    def predict(self, X) -> np.ndarray:
        return self.combine(self.nonzero_probability(X), self.regressor.predict(np.asarray(X)))

    def combine(self, probability: np.ndarray, amount: np.ndarray) -> np.ndarray:
        return np.where(probability > self.threshold, np.maximum(amount, self.lower_), 0.0)


def make_hurdle(config) -> ZeroHurdle:
    """The two models with gbm's settings but the hurdle's column sample; each cross-fitted where
    `gbm.folds` >= 2."""
    import dataclasses

    from physml.tasks.composition.boosting import make_gbm, make_gbm_classifier
    from physml.tasks.composition.crossfit import CrossFitted

    params = dataclasses.replace(config.gbm, colsample_bytree=config.hurdle.colsample_bytree)
    classifier, regressor = make_gbm_classifier(params, config.seed), make_gbm(params, config.seed)
    if params.folds >= 2:
        classifier, regressor = (CrossFitted(model, params.folds, config.seed) for model in (classifier, regressor))
    return ZeroHurdle(classifier, regressor, config.hurdle.threshold)


def named_hooks(hooks, name: str):
    return [
        lambda epoch, metrics, hook=hook: hook(epoch, {f"{name}/{k}": v for k, v in metrics.items()}) for hook in hooks
    ]


def check_targets(nonzero: np.ndarray) -> None:
    if not nonzero.any() or nonzero.all():
        raise ValueError("the hurdle model needs both zero and non-zero targets in the training part")


def fit_hurdle(model: ZeroHurdle, X, y, validation, hooks, every: int) -> None:
    """The classifier on every training row (zero or not), the regressor on the non-zero ones, each
    early-stopping on the validation part's matching rows, reporting as `nonzero/...` and `amount/...`."""
    from physml.tasks.composition.boosting import fit_gbm

    X_val, y_val = validation
    nonzero, val_nonzero = y != 0, y_val != 0
    check_targets(nonzero)
    validation_labels = (X_val, val_nonzero.astype(int))
    fit_gbm(model.classifier, X, nonzero.astype(int), validation_labels, named_hooks(hooks, "nonzero"), every)
    amount_val = (X_val[val_nonzero], y_val[val_nonzero]) if val_nonzero.any() else (X[nonzero], y[nonzero])
    fit_gbm(model.regressor, X[nonzero], y[nonzero], amount_val, named_hooks(hooks, "amount"), every)
    model.lower_ = 0.0 if (y >= 0).all() else -np.inf


def cross_fit_hurdle(model: ZeroHurdle, X, y, folds, validation_rows, hooks, every: int) -> None:
    """Pair k (module docstring) on each (fit rows, held-out rows) of `folds` over X, y (the training and
    validation parts stacked), its curves as `fold<k>/nonzero/...` and `fold<k>/amount/...`."""
    X, y = np.asarray(X), np.asarray(y)
    nonzero = y != 0
    check_targets(nonzero)
    model.lower_ = 0.0 if (y >= 0).all() else -np.inf
    classifiers, regressors = model.classifier, model.regressor
    classifiers.members_, regressors.members_ = [], []
    probability, amount = np.full(len(y), np.nan), np.full(len(y), np.nan)
    for index, (fit_rows, held_rows) in enumerate(folds):
        pair = ZeroHurdle(clone(classifiers.template), clone(regressors.template), model.threshold)
        for member in (pair.classifier, pair.regressor):
            member.set_params(random_state=classifiers.seed + index)
        fit_hurdle(
            pair, X[fit_rows], y[fit_rows], (X[held_rows], y[held_rows]), named_hooks(hooks, f"fold{index + 1}"), every
        )
        probability[held_rows] = pair.nonzero_probability(X[held_rows])
        amount[held_rows] = pair.regressor.predict(X[held_rows])
        classifiers.members_.append(pair.classifier)
        regressors.members_.append(pair.regressor)
    classifiers.n_features_in_ = regressors.n_features_in_ = X.shape[1]
    model.oof_probability_, model.oof_ = probability, model.combine(probability, amount)
    model.validation_oof_ = model.oof_[validation_rows]
