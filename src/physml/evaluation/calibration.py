"""Calibrated class probabilities: temperature scaling of a trained classifier's probabilities
(scikit-learn's CalibratedClassifierCV, method="temperature", on the frozen model), the expected
calibration error, and a paired bootstrap of the change in ECE.

Temperature scaling divides the logits by one number T fitted by log loss on a calibration part:
softmax(z / T). With a softmax net's probabilities p (log p = z + a constant per row) that is
softmax(log p / T), so the served model applies it to the net's output without changing the net.
T < 1 sharpens an under-confident model, T > 1 softens an over-confident one; the class ranking,
and so accuracy, is unchanged."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np

SMALLEST = np.finfo("float64").eps  # added before the log, as scikit-learn does (a softmax can underflow to 0)
# Only numpy at import: a served model applies a Temperature (scikit-learn fits it).


@dataclass(frozen=True)
class Temperature:
    temperature: float  # T: the logits are divided by it
    n_calibration: int  # the rows it was fitted on

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """softmax(log p / T), row by row: what scikit-learn's calibrated classifier returns."""
        scaled = np.log(np.asarray(probs, dtype="float64") + SMALLEST) / self.temperature
        exp = np.exp(scaled - scaled.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)

    def as_dict(self) -> dict:
        return asdict(self)


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> Temperature:
    """T minimising the log loss of softmax(log p / T) on (probs, labels) of a calibration part."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    from physml.evaluation.given_probabilities import GivenProbabilities

    probs = np.asarray(probs, dtype="float64")
    frozen = FrozenEstimator(GivenProbabilities(probs.shape[1]).fit())
    # A frozen model still goes through cross_val_predict (the same predictions in every fold), whose
    # StratifiedKFold warns when a small calibration part has a class of fewer than 5 rows: the folds
    # do not matter here, so that warning is not shown.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The least populated class in y", UserWarning)
        calibrated = CalibratedClassifierCV(frozen, method="temperature").fit(probs, np.asarray(labels))
    (calibrator,) = calibrated.calibrated_classifiers_[0].calibrators
    return Temperature(float(1.0 / calibrator.beta_), len(labels))  # scikit-learn fits beta = 1 / T


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """ECE of the top-class confidence over `bins` equal-width bins: sum over bins of
    (share of rows) x |accuracy - mean confidence|."""
    confidence = np.asarray(probs).max(axis=1)
    correct = np.asarray(probs).argmax(axis=1) == np.asarray(labels)
    which = np.clip(np.digitize(confidence, np.linspace(0, 1, bins + 1)) - 1, 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    gap = np.abs(np.bincount(which, correct, bins) - np.bincount(which, confidence, bins))
    return float(gap.sum() / max(counts.sum(), 1))


def ece_change(
    before: np.ndarray, after: np.ndarray, labels: np.ndarray, resamples: int = 1000, seed: int = 0
) -> tuple[float, float, float]:
    """ECE(after) - ECE(before) and its paired 95% bootstrap interval (the same resampled rows for
    both): at a few hundred test rows, sampling noise alone moves an ECE by a few hundredths."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    changes = []
    for _ in range(resamples):
        rows = rng.integers(0, len(labels), len(labels))
        changes.append(
            expected_calibration_error(after[rows], labels[rows])
            - expected_calibration_error(before[rows], labels[rows])
        )
    low, high = np.quantile(changes, [0.025, 0.975])
    change = expected_calibration_error(after, labels) - expected_calibration_error(before, labels)
    return float(change), float(low), float(high)
