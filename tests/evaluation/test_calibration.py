"""Temperature scaling and conformal prediction sets on synthetic probabilities whose truth is known
(fast): the fitted temperature finds the one that made them, the served formula equals
scikit-learn's calibrated classifier, and sets keep their coverage on exchangeable rows."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator

from physml.evaluation.calibration import Temperature, ece_change, expected_calibration_error, fit_temperature
from physml.evaluation.conformal import conformal_sets, set_metrics
from physml.evaluation.given_probabilities import GivenProbabilities


def sampled(n: int, temperature: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from softmax(z), reported as the probabilities softmax(z / temperature)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, 4)) * 2.5
    true = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(4, p=p) for p in true])
    shown = np.exp(logits / temperature)
    return shown / shown.sum(axis=1, keepdims=True), labels


def test_temperature_finds_the_one_that_made_the_probabilities():
    probs, labels = sampled(4000, temperature=2.5, seed=0)  # under-confident, as focal loss leaves a CNN
    temperature = fit_temperature(probs, labels)
    assert temperature.temperature == pytest.approx(1 / 2.5, rel=0.1) and temperature.n_calibration == 4000
    before = expected_calibration_error(probs, labels)
    after = expected_calibration_error(temperature.apply(probs), labels)
    assert before > 0.1 and after < 0.03
    change, low, high = ece_change(probs, temperature.apply(probs), labels, resamples=200)
    assert low <= change <= high < 0


def test_served_formula_equals_scikit_learns_calibrated_classifier():
    probs, labels = sampled(500, temperature=0.6, seed=1)
    frozen = FrozenEstimator(GivenProbabilities(4).fit())
    calibrated = CalibratedClassifierCV(frozen, method="temperature").fit(probs, labels)
    temperature = fit_temperature(probs, labels)
    assert temperature.temperature > 1  # over-confident probabilities are softened
    np.testing.assert_allclose(temperature.apply(probs), calibrated.predict_proba(probs), rtol=0, atol=1e-8)
    assert (temperature.apply(probs).argmax(axis=1) == probs.argmax(axis=1)).all()  # the ranking stays
    assert Temperature(**temperature.as_dict()) == temperature


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
