"""Out-of-fold predictions on the validation part: each row predicted by a model that did not fit it.

A cross-fitted model (crossfit.py) keeps its members' out-of-fold predictions; a stack (ensemble.py)
blends its members' such predictions. Here, below both, so neither imports the other.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import StackingRegressor

from physml.tasks.composition.crossfit import CrossFitted


def validation_predictions(regressor, X_val) -> np.ndarray:
    """The fitted regressor's predictions on the (scaled) validation part, each from a model that did
    not fit that row: a cross-fitted model's out-of-fold ones, an ensemble's blend of its members' such
    predictions, any other model's own."""
    if isinstance(regressor, CrossFitted) or hasattr(regressor, "validation_oof_"):  # a cross-fitted hurdle too
        return regressor.validation_oof_
    if isinstance(regressor, StackingRegressor):
        members = np.column_stack([validation_predictions(member, X_val) for _, member in members_of(regressor)])
        return regressor.final_estimator_.predict(members)
    return regressor.predict(np.asarray(X_val))


def members_of(stack: StackingRegressor) -> list[tuple[str, object]]:
    """(name, fitted member) in the order the final estimator's weights follow."""
    return list(zip([name for name, _ in stack.estimators], stack.estimators_))
