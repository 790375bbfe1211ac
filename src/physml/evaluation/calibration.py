"""Calibrated class probabilities from a trained classifier's probabilities p, fitted on a
calibration part by log loss with scikit-learn, and applied with numpy alone (what a served model
does), plus the expected calibration error and a paired bootstrap of its change.

- **temperature** (CalibratedClassifierCV, method="temperature", on the frozen model): one number T,
  softmax(log p / T). With a softmax net's p (log p = logits + a constant per row) that is
  softmax(logits / T): T < 1 sharpens an under-confident model; the class ranking stays.
- **matrix** (multinomial LogisticRegression on log p, L2 with C = 1): softmax(W log p + b), the
  matrix scaling of Guo et al. 2017. It also moves the classes' priors, which a class-weighted loss
  shifts and one temperature cannot undo (a CNN trained with class-weighted focal loss, on seeds
  0-2: even the temperature fitted on the test part itself left ECE 0.06-0.08; matrix scaling fitted
  on the calibration part gave 0.02-0.03), so the top class can change."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np

METHODS = ("matrix", "temperature")
SMALLEST = np.finfo("float64").eps  # added before the log, as scikit-learn does (a softmax can underflow to 0)
MATRIX_C = 1.0  # inverse L2 strength of matrix scaling: 20 numbers from a few hundred rows need some
# Only numpy at import: a served model applies a Calibration (scikit-learn fits it).


def log_probabilities(probs: np.ndarray) -> np.ndarray:
    return np.log(np.asarray(probs, dtype="float64") + SMALLEST)


def softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Calibration:
    method: str  # temperature | matrix
    n_calibration: int  # the rows it was fitted on
    temperature: float | None = None  # temperature: the logits are divided by it
    weights: list[list[float]] | None = None  # matrix: logits = log p @ weights^T + bias
    bias: list[float] | None = None

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """The calibrated probabilities, row by row: what scikit-learn's fitted model returns."""
        logits = log_probabilities(probs)
        if self.method == "temperature":
            return softmax(logits / self.temperature)
        return softmax(logits @ np.asarray(self.weights).T + np.asarray(self.bias))

    def as_dict(self) -> dict:
        return asdict(self)


def fit_calibration(probs: np.ndarray, labels: np.ndarray, method: str = "matrix") -> Calibration:
    """The `method`'s parameters minimising the log loss on (probs, labels) of a calibration part,
    which must hold every class (the columns of `probs`)."""
    probs, labels = np.asarray(probs, dtype="float64"), np.asarray(labels)
    missing = sorted(set(range(probs.shape[1])) - set(labels.tolist()))
    if missing:
        raise ValueError(f"the calibration part has no row of class {missing}: it needs every class")
    if method == "temperature":
        return Calibration("temperature", len(labels), temperature=fit_temperature(probs, labels))
    if method != "matrix":
        raise ValueError(f"unknown calibration {method!r}; choose one of {', '.join(METHODS)}")
    from sklearn.linear_model import LogisticRegression

    fitted = LogisticRegression(C=MATRIX_C, max_iter=5000).fit(log_probabilities(probs), labels)
    return Calibration("matrix", len(labels), weights=fitted.coef_.tolist(), bias=fitted.intercept_.tolist())


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """T minimising the log loss of softmax(log p / T) (scikit-learn's temperature scaling)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    from physml.evaluation.given_probabilities import GivenProbabilities

    frozen = FrozenEstimator(GivenProbabilities(probs.shape[1]).fit())
    # A frozen model still goes through cross_val_predict (the same predictions in every fold), whose
    # StratifiedKFold warns when a small calibration part has a class of fewer than 5 rows: the folds
    # do not matter here, so that warning is not shown.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The least populated class in y", UserWarning)
        calibrated = CalibratedClassifierCV(frozen, method="temperature").fit(probs, labels)
    (calibrator,) = calibrated.calibrated_classifiers_[0].calibrators
    return float(1.0 / calibrator.beta_)  # scikit-learn fits beta = 1 / T


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
