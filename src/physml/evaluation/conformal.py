"""Split-conformal prediction intervals for a fitted regressor (MAPIE), in a form a served model can
apply without MAPIE: the calibrated quantiles of the conformity score, so that the interval is
[ŷ + q_low, ŷ + q_high] (absolute score: symmetric, q_low = -q_high) or [ŷ·(1 + q_low), ŷ·(1 + q_high)]
(gamma score: relative errors, quantiles at α/2 and 1 - α/2, so the width grows with the prediction).

For a classifier, `conformal_sets` gives split-conformal prediction sets (MAPIE's LAC or APS score)
from the probabilities of a calibration part: at level 0.9, about 90% of sets hold the true class.

Calibration uses a part of the data that nothing else was fitted or chosen on (the task says which);
coverage on the test part then checks the promise: at level 0.9, about 90% of true values lie inside."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

SCORES = ("absolute", "gamma")


@dataclass(frozen=True)
class ConformalInterval:
    level: float  # the coverage the interval promises (0.9: 90%)
    score: str  # MAPIE's conformity score: absolute | gamma
    low: float  # the calibrated quantiles of the signed score: the offsets of the bounds
    high: float
    n_calibration: int
    floor: float | None = None  # the least value the target can take (Tc: 0 K); bounds below it are raised to it

    def bounds(self, predictions: np.ndarray, by=None) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) around `predictions`, as MAPIE's predict_interval gives them, the low bound
        raised to `floor`: no true value lies below it, so coverage is unchanged. (`by`: the same width
        for every row; a stratified interval's rows differ, stratified_conformal.py.)"""
        predictions = np.asarray(predictions, dtype="float64")
        if self.score == "absolute":
            low, high = predictions + self.low, predictions + self.high
        else:
            low, high = predictions * (1 + self.low), predictions * (1 + self.high)
        return (low if self.floor is None else np.maximum(low, self.floor)), high

    @property
    def half_width(self) -> float:
        """Half the interval's width: in the target's unit (absolute), or relative to ŷ (gamma)."""
        return (self.high - self.low) / 2

    def as_dict(self) -> dict:
        return asdict(self)


def calibrate(
    estimator, X_calibration, y_calibration, level: float, score: str = "absolute", floor: float | None = None
) -> ConformalInterval:
    """MAPIE's SplitConformalRegressor on the already-fitted `estimator`, conformalized on the
    calibration rows; returns the quantiles it found (read back from its intervals)."""
    from mapie.regression import SplitConformalRegressor

    if score not in SCORES:
        raise ValueError(f"unknown conformity score {score!r}; choose one of {', '.join(SCORES)}")
    mapie = SplitConformalRegressor(estimator, confidence_level=level, conformity_score=score, prefit=True)
    mapie.conformalize(X_calibration, y_calibration)
    predictions, intervals = mapie.predict_interval(X_calibration)
    predictions = np.asarray(predictions, dtype="float64")
    low, high = intervals[:, 0, 0], intervals[:, 1, 0]
    if score == "absolute":  # the same offsets on every row
        offsets = float(np.median(low - predictions)), float(np.median(high - predictions))
    else:  # relative offsets: read where the prediction is far from zero
        row = int(np.argmax(np.abs(predictions)))
        offsets = float(low[row] / predictions[row] - 1), float(high[row] / predictions[row] - 1)
    return ConformalInterval(level, score, *offsets, len(y_calibration), floor)


def interval_metrics(y_true, low, high, prefix: str) -> dict[str, float]:
    """Empirical coverage and mean width of intervals on labelled rows."""
    y_true, low, high = (np.asarray(a, dtype="float64") for a in (y_true, low, high))
    inside = (y_true >= low) & (y_true <= high)
    return {
        f"{prefix}interval_coverage": float(inside.mean()),
        f"{prefix}interval_width": float(np.mean(high - low)),
    }


# Prediction sets for a classifier (split conformal): the classes whose conformity score is within
# the calibrated quantile. LAC keeps every class whose probability is at least 1 - q; APS adds classes
# in order of probability until their cumulative probability reaches q, the last one kept at random
# in proportion (MAPIE's "randomized": exact coverage; seeded, so a run's sets are reproducible).
SET_SCORES = ("lac", "aps")


def conformal_sets(
    calibration_probs: np.ndarray,
    calibration_labels: np.ndarray,
    probs: np.ndarray,
    level: float,
    score: str = "lac",
    seed: int = 0,
) -> np.ndarray:
    """(n, k) boolean membership of each class in each row's set: MAPIE's SplitConformalClassifier
    conformalized on a calibration part's probabilities and labels, then applied to `probs`."""
    from mapie.classification import SplitConformalClassifier

    from physml.evaluation.given_probabilities import GivenProbabilities

    if score not in SET_SCORES:
        raise ValueError(f"unknown conformity score {score!r}; choose one of {', '.join(SET_SCORES)}")
    given = GivenProbabilities(np.asarray(probs).shape[1]).fit()
    mapie = SplitConformalClassifier(
        given, confidence_level=level, conformity_score=score, prefit=True, random_state=seed
    )
    mapie.conformalize(np.asarray(calibration_probs, dtype="float64"), np.asarray(calibration_labels))
    params = {"include_last_label": "randomized"} if score == "aps" else None
    _, sets = mapie.predict_set(np.asarray(probs, dtype="float64"), conformity_score_params=params)
    return np.asarray(sets[:, :, 0], dtype=bool)


def set_metrics(sets: np.ndarray, labels: np.ndarray, prefix: str) -> dict[str, float]:
    """Coverage (the true class is in the set), mean set size, the share of single-class sets and
    their accuracy, and the share of empty sets."""
    labels = np.asarray(labels)
    size = sets.sum(axis=1)
    covered = sets[np.arange(len(labels)), labels]
    single = size == 1
    return {
        f"{prefix}set_coverage": float(covered.mean()),
        f"{prefix}set_size": float(size.mean()),
        f"{prefix}set_singleton_fraction": float(single.mean()),
        f"{prefix}set_singleton_accuracy": float(covered[single].mean()) if single.any() else float("nan"),
        f"{prefix}set_empty_fraction": float((size == 0).mean()),
    }
