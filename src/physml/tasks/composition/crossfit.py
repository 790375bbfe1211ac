"""Cross-fitting (`gbm.folds: K`): K models over the training and validation parts together.

One XGBoost fitted on the training part leaves the validation part (15% of it) out of the fit for
early stopping and model choice. Cross-fitting uses those rows too without scoring a model on rows it
saw: the training and validation parts are cut into K folds under the split's policy (grouped keeps a
composition in one fold), and member k fits on every fold but k, early-stopping on fold k. The model
predicts the members' mean (bagging, which also lowers the variance of one model).

Each row of the two parts is predicted once by the member that never saw it (out of fold): the
validation part's metrics are those predictions, so `val_rmse` stays an honest score on the same rows
as a single model's, and an ensemble blends its members on them (a classifier's: its probability of
class 1). The calibration and test parts are outside every fold.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils.metaestimators import available_if

# fit_member(index, unfitted member, X_fit, y_fit, (X_held, y_held)) fits the member in place
FitMember = Callable[[int, object, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]], object]


class CrossFitted(RegressorMixin, BaseEstimator):
    """K copies of `template`, each fitted on all folds but one; `predict` is their mean."""

    def __init__(self, template, folds: int, seed: int):
        self.template, self.folds, self.seed = template, folds, seed

    def fit(self, X, y, fold_rows: list[tuple[np.ndarray, np.ndarray]], fit_member: FitMember, validation_rows=None):
        """Fit one member per (fit rows, held-out rows) pair; keep every row's out-of-fold prediction
        (`oof_`) and those of `validation_rows` (`validation_oof_`)."""
        X, y = np.asarray(X), np.asarray(y)
        self.n_features_in_ = X.shape[1]  # what scikit-learn (and MAPIE) read as fitted
        self.members_, self.oof_ = [], np.full(len(y), np.nan)
        for index, (fit_rows, held_rows) in enumerate(fold_rows):
            member = clone(self.template)
            if "random_state" in member.get_params():
                member.set_params(random_state=self.seed + index)
            fit_member(index, member, X[fit_rows], y[fit_rows], (X[held_rows], y[held_rows]))
            self.oof_[held_rows] = predicted(member, X[held_rows])
            self.members_.append(member)
        self.validation_oof_ = self.oof_[validation_rows] if validation_rows is not None else None
        return self

    def predict(self, X) -> np.ndarray:
        return np.mean([member.predict(np.asarray(X)) for member in self.members_], axis=0)

    @available_if(lambda self: hasattr(self.template, "predict_proba"))
    def predict_proba(self, X) -> np.ndarray:
        """A cross-fitted classifier's probabilities: its members' mean."""
        return np.mean([member.predict_proba(np.asarray(X)) for member in self.members_], axis=0)


def predicted(member, X) -> np.ndarray:
    """What a member's out-of-fold prediction is: a classifier's probability of class 1, a regressor's value."""
    return member.predict_proba(X)[:, 1] if hasattr(member, "predict_proba") else member.predict(X)
