"""Mondrian (stratified), normalised conformal intervals for a target that is exactly zero on many rows.

A zero-hurdle model (a classifier of zero or not, then an amount) is right to the digit on most rows
it calls zero and wrong by a lot on the few it misses, while its amounts err by a spread of sizes. One
split-conformal width for every row then covers the zero rows and under-covers the non-zero ones. So
the rows are put in strata by the classifier's probability of non-zero (`edges`: stratum i holds the
rows with edges[i-1] < p <= edges[i]); each stratum's scale is its mean absolute residual on the
calibration rows (floored at `MIN_SCALE_SHARE` of the overall one, so a stratum of exact zeros keeps
a width); the conformity score is |y - ŷ| / scale, and q its conformal quantile at `level` (the
finite-sample ceil((n + 1) level) / n rank) over the calibration rows, which only the final model
predicts (a cross-fitted model's scales may come from its out-of-fold predictions). The interval is ŷ ± q·scale, its low bound raised to
`floor` (no true value lies below it, so coverage is unchanged): where zero is predicted, [0, q·scale].

A guard keeps the rows whose true value is not at the floor from paying for the exact ones: q is at
least the conformal quantile, at `level - GUARD_SHORTFALL`, over those rows alone. The strata, the
scale floor and the guard were chosen by inner cross-validation on a Matbench band-gap task's training
rows ("L5" in docs/notes/matbench-inner-cv.md).
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

import numpy as np

MIN_SCALE_SHARE = 0.15  # a stratum's scale is at least this share of the overall mean absolute residual
GUARD_SHORTFALL = 0.04  # the rows off the floor are covered at level - this, at least


@dataclass(frozen=True)
class StratifiedInterval:
    level: float  # the coverage the interval promises over all rows (0.9: 90%)
    edges: list[float]  # the stratifying probability's cut points
    scales: list[float]  # each stratum's scale (len(edges) + 1)
    q: float  # the conformal quantile of the normalised score
    n_calibration: int
    floor: float | None = None
    score: str = "stratified"

    def strata(self, by) -> np.ndarray:
        return np.searchsorted(np.asarray(self.edges), np.asarray(by, dtype="float64"), side="left")

    def bounds(self, predictions, by) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) around `predictions`, each row's width from the stratum its `by` (P(non-zero)) puts it in."""
        predictions = np.asarray(predictions, dtype="float64")
        half = self.q * np.asarray(self.scales)[self.strata(by)]
        low = predictions - half
        return (low if self.floor is None else np.maximum(low, self.floor)), predictions + half

    @property
    def half_width(self) -> float:
        """The widest stratum's half width, in the target's unit."""
        return float(self.q * max(self.scales))

    def as_dict(self) -> dict:
        return asdict(self)


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The ceil((n + 1) level)-th smallest score: split conformal's finite-sample quantile."""
    scores = np.sort(np.asarray(scores, dtype="float64"))
    rank = min(len(scores), int(np.ceil((len(scores) + 1) * level)))
    return float(scores[rank - 1])


def calibrate_stratified(
    y_true, predictions, by, edges: list[float], level: float, floor: float | None = 0.0, scaled_by=None
) -> StratifiedInterval:
    """The interval (module docstring) calibrated on rows nothing was fitted on: their truth, the final
    model's predictions and the stratifying probability `by`. `scaled_by` = (truth, predictions, by) of
    other held-out rows (a cross-fitted model's out-of-fold ones) sets the strata's scales instead, so
    that the quantile alone is read from the calibration rows: the scales are then fixed before those
    rows are seen, and their residuals are the final model's, as the test rows' will be."""
    y_true, predictions = np.asarray(y_true, dtype="float64"), np.asarray(predictions, dtype="float64")
    if not len(y_true):
        raise ValueError("stratified conformal intervals need calibration rows, got none")
    scales = strata_scales(*(scaled_by or (y_true, predictions, by)), edges)
    strata = np.searchsorted(np.asarray(edges), np.asarray(by, dtype="float64"), side="left")
    scores = np.abs(y_true - predictions) / np.asarray(scales)[strata]
    q = conformal_quantile(scores, level)
    off_floor = y_true != floor if floor is not None else np.zeros(len(y_true), bool)
    if off_floor.sum() >= 20:
        q = max(q, conformal_quantile(scores[off_floor], level - GUARD_SHORTFALL))
    return StratifiedInterval(level, [float(e) for e in edges], scales, q, len(y_true), floor)


def strata_scales(y_true, predictions, by, edges: list[float]) -> list[float]:
    """Each stratum's mean absolute residual, at least MIN_SCALE_SHARE of the overall one (which also
    stands for a stratum without rows)."""
    residuals = np.abs(np.asarray(y_true, dtype="float64") - np.asarray(predictions, dtype="float64"))
    strata = np.searchsorted(np.asarray(edges), np.asarray(by, dtype="float64"), side="left")
    least, overall = MIN_SCALE_SHARE * residuals.mean(), float(residuals.mean())
    return [
        max(least, float(residuals[strata == k].mean()) if (strata == k).any() else overall)
        for k in range(len(edges) + 1)
    ]


def interval_from_dict(values: dict):
    """The interval a served model saved: stratified, or MAPIE's split-conformal one (conformal.py)."""
    if values.get("score") == "stratified":
        return StratifiedInterval(**values)
    from physml.evaluation.conformal import ConformalInterval

    return ConformalInterval(**values)


def stratum_labels(edges: list[float]) -> list[str]:
    """Each stratum's name by its probability range (a legal MLflow metric name): p0-0.1, p0.1-0.3, ..., p0.9-1."""
    cuts = ["0", *(f"{edge:g}" for edge in edges), "1"]
    return [f"p{low}-{high}" for low, high in itertools.pairwise(cuts)]


def stratum_metrics(interval: StratifiedInterval, y_true, low, high, by, prefix: str) -> dict[str, float]:
    """Coverage and mean width per stratum (`<prefix>interval_coverage/<stratum>`, `..._width/...`) and on
    the rows whose true value is off the floor (`<prefix>interval_coverage_off_floor`)."""
    y_true, low, high = (np.asarray(a, dtype="float64") for a in (y_true, low, high))
    inside, width, strata = (y_true >= low) & (y_true <= high), high - low, interval.strata(by)
    values = {}
    for k, label in enumerate(stratum_labels(interval.edges)):
        rows = strata == k
        if rows.any():
            values |= {
                f"{prefix}interval_coverage/{label}": float(inside[rows].mean()),
                f"{prefix}interval_width/{label}": float(width[rows].mean()),
                f"{prefix}interval_rows/{label}": float(rows.sum()),
            }
    if interval.floor is not None and (off := y_true != interval.floor).any():
        values[f"{prefix}interval_coverage_off_floor"] = float(inside[off].mean())
        values[f"{prefix}interval_width_off_floor"] = float(width[off].mean())
    return values
