"""Stratified (Mondrian) normalised conformal intervals on a synthetic zero-hurdle target: the promised
coverage overall, the guard's on the non-zero rows, no bound below zero, and the served dict's round trip."""

from __future__ import annotations

import numpy as np
import pytest

from physml.evaluation.stratified_conformal import (
    StratifiedInterval,
    calibrate_stratified,
    conformal_quantile,
    interval_from_dict,
    stratum_labels,
    stratum_metrics,
)

EDGES = [0.1, 0.3, 0.65, 0.9]


def hurdle_rows(n: int, seed: int):
    """P(non-zero) per row, the truth drawn from it, and a hurdle's prediction (0 at or below 0.65)."""
    rng = np.random.default_rng(seed)
    probability = rng.beta(0.6, 0.6, n)
    nonzero = rng.random(n) < probability
    y = np.where(nonzero, rng.lognormal(0.5, 0.6, n), 0.0)
    amount = np.where(nonzero, np.abs(y + rng.normal(0, 0.4, n)), rng.lognormal(0.5, 0.6, n))
    predicted = np.where(probability > 0.65, amount, 0.0)
    return y, predicted, probability


def test_the_conformal_quantile_is_the_finite_sample_rank():
    assert conformal_quantile(np.arange(1, 11), 0.9) == 10  # ceil(11 x 0.9) = 10th of 10
    assert conformal_quantile(np.arange(1, 101), 0.9) == 91  # ceil(101 x 0.9) = 91st


def test_coverage_holds_overall_and_on_the_non_zero_rows():
    interval = calibrate_stratified(*hurdle_rows(4000, 0), EDGES, 0.9)
    y, predicted, probability = hurdle_rows(20000, 1)
    low, high = interval.bounds(predicted, probability)
    inside = (y >= low) & (y <= high)
    assert 0.88 <= inside.mean() <= 0.93
    assert inside[y != 0].mean() >= 0.85  # the guard: rows off the floor covered at 0.86 or more
    assert (low >= 0).all() and (low[predicted == 0] == 0).all()
    assert interval.scales[0] < interval.scales[2]  # the sure zeros are narrow, the doubtful rows wide
    metrics = stratum_metrics(interval, y, low, high, probability, "test_")
    assert set(stratum_labels(EDGES)) == {key.split("/")[1] for key in metrics if "/" in key}
    assert metrics["test_interval_coverage_off_floor"] == pytest.approx(inside[y != 0].mean())


def test_a_served_interval_is_the_calibrated_one():
    interval = calibrate_stratified(*hurdle_rows(500, 2), EDGES, 0.9)
    again = interval_from_dict(interval.as_dict())
    assert isinstance(again, StratifiedInterval) and again == interval
    predictions, probability = np.array([0.0, 1.2, 3.0]), np.array([0.05, 0.7, 0.95])
    np.testing.assert_array_equal(
        again.bounds(predictions, probability)[1], interval.bounds(predictions, probability)[1]
    )


def test_no_calibration_rows_is_a_clear_error():
    with pytest.raises(ValueError, match="need calibration rows"):
        calibrate_stratified([], [], [], EDGES, 0.9)


def test_scales_from_out_of_fold_rows_leave_the_quantile_to_the_calibration_rows():
    from physml.evaluation.stratified_conformal import strata_scales

    y, predicted, probability = hurdle_rows(1000, 3)
    wider = hurdle_rows(3000, 4)
    noisier = (wider[0], wider[1] * 1.3, wider[2])  # weaker members' out-of-fold predictions
    interval = calibrate_stratified(y, predicted, probability, EDGES, 0.9, scaled_by=noisier)
    assert interval.scales == strata_scales(*noisier, EDGES) and interval.n_calibration == 1000
    low, high = interval.bounds(predicted, probability)
    assert ((y >= low) & (y <= high)).mean() >= 0.9  # q is the calibration rows' own conformal quantile
