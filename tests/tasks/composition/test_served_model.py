"""The composition kind's served model gives what the fitted pipeline gives: the hurdle model (zero or
not, then how much) and a calibrated classifier, both from raw formulas, saved without pickle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from physml.tasks.composition.elements import completed_table
from physml.tasks.composition.formula import featurise_formulas
from physml.tasks.composition.hurdle import ZeroHurdle
from physml.tasks.composition.served_model import CompositionModel, save_parts

FORMULAS = ["Fe2O3", "Cu", "NaCl", "GaAs", "Al", "SiO2", "ZnO", "Ni", "TiO2", "Mg", "UO2", "ThO2"] * 4


def fitted(estimator, y, descriptors: bool = False):
    X = featurise_formulas(FORMULAS, completed_table(), descriptors).reset_index(drop=True)
    pipeline = Pipeline([("scaler", StandardScaler()), ("model", estimator)])
    scaled = pipeline.steps[0][1].fit(X).transform(X)
    pipeline.steps[1][1].fit(scaled, y)
    return pipeline, X


@pytest.mark.parametrize("descriptors", [False, True], ids=["all175", "all431"])
def test_the_hurdle_model_serves_what_it_predicts(tmp_path, descriptors):
    from xgboost import XGBClassifier, XGBRegressor

    rng = np.random.default_rng(0)
    y = np.where(rng.random(len(FORMULAS)) < 0.5, 0.0, rng.uniform(0.5, 4, len(FORMULAS)))
    hurdle = ZeroHurdle(XGBClassifier(n_estimators=5), XGBRegressor(n_estimators=5))
    pipeline, X = fitted(hurdle, y, descriptors)
    assert X.shape[1] == (431 if descriptors else 175)  # the served model featurises what it was fitted on
    artifacts = save_parts(pipeline, tmp_path, {"output": "gap", "formula_column": "composition", "interval": None})
    served = CompositionModel.loaded(artifacts).predict(None, pd.DataFrame({"composition": FORMULAS}))
    np.testing.assert_allclose(served["gap"], pipeline.predict(X), rtol=1e-5, atol=1e-6)
    assert (served["gap"] >= 0).all() and (served["gap"] == 0).any()


def test_a_classifier_serves_its_calibrated_probability_and_label(tmp_path):
    from sklearn.linear_model import LogisticRegression

    y = np.array([1 if formula in ("Cu", "Al", "Ni", "Mg") else 0 for formula in FORMULAS])
    pipeline, X = fitted(LogisticRegression(max_iter=500), y)
    knots = [[0.0, 0.5, 1.0], [0.1, 0.4, 0.9]]
    served_parts = {"output": "is_metal", "formula_column": "composition", "calibration": knots, "threshold": 0.3}
    artifacts = save_parts(pipeline, tmp_path, served_parts)
    served = CompositionModel.loaded(artifacts).predict(None, pd.DataFrame({"composition": FORMULAS}))
    expected = np.interp(pipeline.predict_proba(X)[:, 1], *knots)
    np.testing.assert_allclose(served["is_metal_probability"], expected, rtol=1e-6)
    assert (served["is_metal"] == (expected > 0.3)).all()


def test_a_cross_fitted_hurdle_serves_its_mean_and_stratified_intervals(tmp_path):
    """gbm.folds pairs (hurdle.py): the served model averages the members' probabilities and amounts as the
    fitted one does, and widens each row's interval by the stratum its P(non-zero) falls in."""
    from xgboost import XGBClassifier, XGBRegressor

    from physml.data.splits import fold_indices
    from physml.evaluation.stratified_conformal import calibrate_stratified
    from physml.tasks.composition.crossfit import CrossFitted
    from physml.tasks.composition.hurdle import cross_fit_hurdle

    rng = np.random.default_rng(1)
    y = np.where(rng.random(len(FORMULAS)) < 0.5, 0.0, rng.uniform(0.5, 4, len(FORMULAS)))
    template = ZeroHurdle(
        CrossFitted(XGBClassifier(n_estimators=5), 3, 0), CrossFitted(XGBRegressor(n_estimators=5), 3, 0)
    )
    X = featurise_formulas(FORMULAS, completed_table(), False).reset_index(drop=True)
    pipeline = Pipeline([("scaler", StandardScaler()), ("regressor", template)])
    scaled = pipeline.steps[0][1].fit(X).transform(X)
    cross_fit_hurdle(template, scaled, y, fold_indices(len(y), "random", 3, 0), slice(0, 0), [], 5)
    assert len(template.classifier.members_) == 3 and not np.isnan(template.oof_).any()
    interval = calibrate_stratified(y, template.oof_, template.oof_probability_, [0.1, 0.3, 0.5, 0.9], 0.9)
    served_parts = {"output": "gap", "formula_column": "composition", "interval": interval.as_dict()}
    artifacts = save_parts(pipeline, tmp_path, served_parts)
    served = CompositionModel.loaded(artifacts).predict(None, pd.DataFrame({"composition": FORMULAS}))
    predicted = pipeline.predict(X)
    np.testing.assert_allclose(served["gap"], predicted, rtol=1e-5, atol=1e-6)
    low, high = interval.bounds(predicted, template.nonzero_probability(scaled))
    np.testing.assert_allclose(served["gap_low"], low, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(served["gap_high"], high, rtol=1e-5, atol=1e-6)
    assert (served["gap_low"] >= 0).all() and served["gap_high"].nunique() > 1
