"""A model shaped for a target that is exactly zero for many rows (half of Matbench's band gaps).

Two XGBoost models: a classifier of zero or not, and a regressor fitted on the non-zero rows alone.
It predicts 0 where the classifier says zero is more likely than not, else the regressor's value
(clipped at 0 when no training target is negative). Under the absolute error this is the median of
the mixture: where P(0) > 0.5 the median is 0; elsewhere the non-zero part's prediction stands for it.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin


class ZeroHurdle(RegressorMixin, BaseEstimator):
    def __init__(self, classifier=None, regressor=None, threshold: float = 0.5):
        self.classifier, self.regressor, self.threshold = classifier, regressor, threshold

    def fit(self, X, y):
        """Both models on (X, y), early-stopping on the same rows (the kind fits with fit_hurdle instead,
        validating on its validation part)."""
        X, y = np.asarray(X), np.asarray(y)
        fit_hurdle(self, X, y, (X, y), [], 10)
        return self

    def predict(self, X) -> np.ndarray:
        nonzero = self.classifier.predict_proba(np.asarray(X))[:, 1] > self.threshold
        amount = np.maximum(self.regressor.predict(np.asarray(X)), self.lower_)
        return np.where(nonzero, amount, 0.0)


def make_hurdle(config) -> ZeroHurdle:
    from physml.tasks.composition.boosting import make_gbm, make_gbm_classifier

    classifier = make_gbm_classifier(config.gbm, config.seed)
    return ZeroHurdle(classifier, make_gbm(config.gbm, config.seed), config.hurdle.threshold)


def fit_hurdle(model: ZeroHurdle, X, y, validation, hooks, every: int) -> None:
    """The classifier on every training row (zero or not), the regressor on the non-zero ones, each
    early-stopping on the validation part's matching rows, reporting as `nonzero/...` and `amount/...`."""
    from physml.tasks.composition.boosting import fit_gbm

    X_val, y_val = validation
    nonzero, val_nonzero = y != 0, y_val != 0
    if not nonzero.any() or nonzero.all():
        raise ValueError("the hurdle model needs both zero and non-zero targets in the training part")
    named = lambda name: [
        lambda epoch, metrics, hook=hook: hook(epoch, {f"{name}/{k}": v for k, v in metrics.items()}) for hook in hooks
    ]
    fit_gbm(model.classifier, X, nonzero.astype(int), (X_val, val_nonzero.astype(int)), named("nonzero"), every)
    amount_val = (X_val[val_nonzero], y_val[val_nonzero]) if val_nonzero.any() else (X[nonzero], y[nonzero])
    fit_gbm(model.regressor, X[nonzero], y[nonzero], amount_val, named("amount"), every)
    model.lower_ = 0.0 if (y >= 0).all() else -np.inf
