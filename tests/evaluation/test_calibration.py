"""Calibration and conformal prediction sets on synthetic probabilities whose truth is known (fast):
the fitted temperature finds the one that made them, matrix scaling also undoes shifted class
priors, the served formulas equal scikit-learn's fitted models, and sets keep their coverage on
exchangeable rows."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from physml.evaluation.calibration import (
    MATRIX_C,
    Calibration,
    ece_change,
    expected_calibration_error,
    fit_calibration,
    log_probabilities,
)
from physml.evaluation.conformal import conformal_sets, set_metrics
from physml.evaluation.given_probabilities import GivenProbabilities


def sampled(n: int, temperature: float, seed: int, prior_shift=(0, 0, 0, 0)) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from softmax(z), reported as the probabilities softmax(z / temperature + shift)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, 4)) * 2.5
    true = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(4, p=p) for p in true])
    shown = np.exp(logits / temperature + np.asarray(prior_shift))
    return shown / shown.sum(axis=1, keepdims=True), labels


def test_temperature_finds_the_one_that_made_the_probabilities():
    probs, labels = sampled(4000, temperature=2.5, seed=0)  # under-confident, as focal loss leaves a CNN
    calibration = fit_calibration(probs, labels, "temperature")
    assert calibration.temperature == pytest.approx(1 / 2.5, rel=0.1) and calibration.n_calibration == 4000
    before = expected_calibration_error(probs, labels)
    after = expected_calibration_error(calibration.apply(probs), labels)
    assert before > 0.1 and after < 0.03
    change, low, high = ece_change(probs, calibration.apply(probs), labels, resamples=200)
    assert low <= change <= high < 0


def test_matrix_scaling_also_undoes_shifted_priors_which_one_temperature_cannot():
    """A class-weighted loss shifts the classes' priors: one temperature leaves that, W log p + b not."""
    shift = (0.0, 0.0, 1.5, 0.5)  # a rare class pushed up, as balanced class weights do
    probs, labels = sampled(3000, temperature=2.0, seed=3, prior_shift=shift)
    test_probs, test_labels = sampled(3000, temperature=2.0, seed=4, prior_shift=shift)
    temperature = fit_calibration(probs, labels, "temperature")
    matrix = fit_calibration(probs, labels, "matrix")
    ece = {c.method: expected_calibration_error(c.apply(test_probs), test_labels) for c in (temperature, matrix)}
    assert ece["matrix"] < 0.03 < ece["temperature"]
    accuracy = (matrix.apply(test_probs).argmax(axis=1) == test_labels).mean()
    assert accuracy > (test_probs.argmax(axis=1) == test_labels).mean()  # the priors put right, the top class too


def test_served_formulas_equal_scikit_learns_fitted_models():
    probs, labels = sampled(500, temperature=0.6, seed=1)
    frozen = FrozenEstimator(GivenProbabilities(4).fit())
    calibrated = CalibratedClassifierCV(frozen, method="temperature").fit(probs, labels)
    temperature = fit_calibration(probs, labels, "temperature")
    assert temperature.temperature > 1  # over-confident probabilities are softened
    np.testing.assert_allclose(temperature.apply(probs), calibrated.predict_proba(probs), rtol=0, atol=1e-8)
    assert (temperature.apply(probs).argmax(axis=1) == probs.argmax(axis=1)).all()  # the ranking stays
    matrix = fit_calibration(probs, labels, "matrix")
    regression = LogisticRegression(C=MATRIX_C, max_iter=5000).fit(log_probabilities(probs), labels)
    np.testing.assert_allclose(matrix.apply(probs), regression.predict_proba(log_probabilities(probs)), atol=1e-9)
    for calibration in (temperature, matrix):  # what calibration.json holds gives the same model back
        assert Calibration(**calibration.as_dict()) == calibration


def test_a_calibration_part_without_a_class_is_refused():
    probs, labels = sampled(50, temperature=1.0, seed=5)
    with pytest.raises(ValueError, match=r"no row of class \[3\]"):
        fit_calibration(probs, np.minimum(labels, 2), "matrix")


def test_ece_by_hand():
    probs = np.array([[0.95, 0.05], [0.95, 0.05], [0.55, 0.45], [0.55, 0.45]])
    labels = np.array([0, 1, 0, 0])  # bin 0.9-1: accuracy 0.5 at 0.95; bin 0.5-0.6: 1.0 at 0.55
    assert expected_calibration_error(probs, labels) == pytest.approx(0.5 * 0.45 + 0.5 * 0.45)


@pytest.mark.parametrize("score", ["lac", "aps"])
def test_sets_cover_exchangeable_rows(score):
    probs, labels = sampled(6000, temperature=1.0, seed=2)
    sets = conformal_sets(probs[:1000], labels[:1000], probs[1000:], level=0.9, score=score)
    metrics = set_metrics(sets, labels[1000:], "test_")
    assert abs(metrics["test_set_coverage"] - 0.9) < 0.025
    assert 1 <= metrics["test_set_size"] < 4 and 0 < metrics["test_set_singleton_fraction"] < 1


def test_set_metrics_by_hand():
    sets = np.array([[True, False, False], [True, True, False], [False, False, False], [False, True, False]])
    metrics = set_metrics(sets, np.array([0, 1, 2, 0]), "val_")
    assert metrics == {
        "val_set_coverage": 0.5,
        "val_set_size": 1.0,
        "val_set_singleton_fraction": 0.5,
        "val_set_singleton_accuracy": 0.5,
        "val_set_empty_fraction": 0.25,
    }
