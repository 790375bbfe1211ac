"""Regression metrics on the test part, with bootstrap 95% intervals for R^2 and RMSE."""

from __future__ import annotations

import numpy as np
import pandas as pd


def r2_score(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """R^2 along the last axis (works for a batch of bootstrap resamples); NaN where every true value is
    the same (a resample of a few repeated rows, all of them 0)."""
    residual = ((y_true - y_pred) ** 2).sum(axis=-1)
    total = ((y_true - y_true.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, 1.0 - residual / np.where(total > 0, total, 1.0), np.nan)


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    return np.sqrt(((y_true - y_pred) ** 2).mean(axis=-1))


def regression_metrics(
    y_true, y_pred, prefix: str = "test_", bootstrap_resamples: int = 1000, seed: int = 0
) -> dict[str, float]:
    """R^2, RMSE, MAE, median and 90th-percentile |error| (K), plus 95% bootstrap intervals."""
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    abs_error = np.abs(y_true - y_pred)
    metrics = {
        "r2": float(r2_score(y_true, y_pred)),
        "rmse": float(rmse(y_true, y_pred)),
        "mae": float(abs_error.mean()),
        "median_abs_error": float(np.median(abs_error)),
        "p90_abs_error": float(np.quantile(abs_error, 0.9)),
    }
    if bootstrap_resamples > 0:
        rng = np.random.default_rng(seed)
        chunks = []
        for start in range(0, bootstrap_resamples, 200):  # bounded memory
            size = min(200, bootstrap_resamples - start)
            idx = rng.integers(0, len(y_true), size=(size, len(y_true)))
            chunks.append((r2_score(y_true[idx], y_pred[idx]), rmse(y_true[idx], y_pred[idx])))
        r2s = np.concatenate([c[0] for c in chunks])
        rmses = np.concatenate([c[1] for c in chunks])
        finite = r2s[np.isfinite(r2s)]
        r2_bounds = np.quantile(finite, [0.025, 0.975]) if len(finite) else (np.nan, np.nan)
        metrics["r2_ci_low"], metrics["r2_ci_high"] = map(float, r2_bounds)
        metrics["rmse_ci_low"], metrics["rmse_ci_high"] = map(float, np.quantile(rmses, [0.025, 0.975]))
    return {prefix + key: value for key, value in metrics.items()}


def stratified_metrics(y_true, y_pred, low, high, strata) -> pd.DataFrame:
    """Per stratum (a label per row): rows, RMSE, MAE, and the coverage and mean width of the
    intervals [low, high]. Strata in the order they first appear in `strata`'s categories, or sorted."""
    frame = pd.DataFrame(
        {
            "stratum": np.asarray(strata),
            "error": np.asarray(y_true, dtype=float) - np.asarray(y_pred, dtype=float),
            "inside": (np.asarray(y_true) >= np.asarray(low)) & (np.asarray(y_true) <= np.asarray(high)),
            "width": np.asarray(high, dtype=float) - np.asarray(low, dtype=float),
        }
    )
    rows = []
    order = list(strata.categories) if isinstance(strata, pd.Categorical) else sorted(frame.stratum.unique())
    for stratum in order:
        part = frame[frame.stratum == stratum]
        if part.empty:
            continue
        rows.append(
            {
                "stratum": stratum,
                "n": len(part),
                "rmse": float(np.sqrt(np.mean(part.error**2))),
                "mae": float(part.error.abs().mean()),
                "coverage": float(part.inside.mean()),
                "mean_width": float(part.width.mean()),
            }
        )
    return pd.DataFrame(rows)
