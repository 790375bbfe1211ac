"""The served interval is MAPIE's: ConformalInterval.bounds reproduces SplitConformalRegressor's
predict_interval from the one number it keeps (fast: synthetic data, a linear model)."""

from __future__ import annotations

import numpy as np
import pytest
from mapie.regression import SplitConformalRegressor
from sklearn.linear_model import LinearRegression

from physml.evaluation.conformal import calibrate, interval_metrics


@pytest.mark.parametrize("score", ["absolute", "gamma"])
def test_bounds_equal_mapies_interval(score):
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 10, size=(3000, 3))
    y = X @ np.array([2.0, 1.0, 0.5]) * (1 + 0.1 * rng.standard_normal(3000))  # noise grows with y
    model = LinearRegression().fit(X[:1000], y[:1000])
    interval = calibrate(model, X[1000:2000], y[1000:2000], level=0.9, score=score)
    mapie = SplitConformalRegressor(model, confidence_level=0.9, conformity_score=score, prefit=True)
    mapie.conformalize(X[1000:2000], y[1000:2000])
    _, expected = mapie.predict_interval(X[2000:])
    low, high = interval.bounds(model.predict(X[2000:]))
    assert np.allclose(low, expected[:, 0, 0]) and np.allclose(high, expected[:, 1, 0])
    coverage = interval_metrics(y[2000:], low, high, "test_")["test_interval_coverage"]
    assert abs(coverage - 0.9) < 0.04  # 1,000 exchangeable rows: the promise holds


def test_floor_raises_low_bounds_only():
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 1, size=(200, 1))
    model = LinearRegression().fit(X, X[:, 0])
    interval = calibrate(model, X, X[:, 0] + rng.normal(0, 0.5, 200), 0.9, floor=0.0)
    low, high = interval.bounds(np.array([0.1, 5.0]))
    assert interval.low == pytest.approx(-interval.high) and interval.half_width > 0.5
    assert low[0] == 0.0 and low[1] == pytest.approx(5.0 + interval.low)
    assert high == pytest.approx(np.array([0.1, 5.0]) + interval.high)
