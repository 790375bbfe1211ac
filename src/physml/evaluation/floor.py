"""The repeat-scatter floor: where the same group (a composition) was measured more than once, the
scatter of its measurements bounds how well any model of the group can do.

The pooled within-group SD, sqrt(sum_g sum_i (y_gi - mean_g)^2 / sum_g (n_g - 1)), over the groups
with two or more rows, is the noise a model of the group key cannot explain: its RMSE on those rows
cannot be much below it, and R^2 cannot exceed 1 - SD^2 / var(y)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def repeated(groups) -> np.ndarray:
    """Whether each row's group occurs on more than one row."""
    codes = pd.Series(np.asarray(groups)).astype(str)
    return codes.map(codes.value_counts()).to_numpy() > 1


def pooled_sd(y, groups) -> dict[str, float]:
    """The pooled within-group SD over repeated groups, the rows and groups it rests on."""
    frame = pd.DataFrame({"y": np.asarray(y, dtype=float), "g": pd.Series(np.asarray(groups)).astype(str)})
    frame = frame[repeated(frame.g)]
    if frame.empty:
        return {"rmse": float("nan"), "rows": 0.0, "groups": 0.0}
    squares = (frame.y - frame.groupby("g").y.transform("mean")) ** 2
    freedom = len(frame) - frame.g.nunique()
    return {
        "rmse": float(np.sqrt(squares.sum() / freedom)),
        "rows": float(len(frame)),
        "groups": float(frame.g.nunique()),
    }


def repeat_floor(y, groups, strata: dict[str, np.ndarray] | None = None) -> dict[str, float]:
    """The floor over all rows (`rmse`, `rows`, `groups`, `share` of rows in a repeated group, `r2_max`)
    and per stratum (`by_<name>/<stratum>/<key>`; a group is counted within each stratum it has rows in)."""
    y = np.asarray(y, dtype=float)
    floor = pooled_sd(y, groups)
    floor["share"] = floor["rows"] / len(y) if len(y) else float("nan")
    floor["r2_max"] = r2_max(floor["rmse"], y)
    for name, labels in (strata or {}).items():
        labels = pd.Series(np.asarray(labels)).astype(str).to_numpy()
        for stratum in pd.unique(labels):
            inside = labels == stratum
            part = pooled_sd(y[inside], np.asarray(groups)[inside])
            part["r2_max"] = r2_max(part["rmse"], y[inside])
            floor.update({f"by_{name}/{stratum}/{key}": value for key, value in part.items()})
    return floor


def r2_max(noise_sd: float, y: np.ndarray) -> float:
    variance = float(np.var(y, ddof=1)) if len(y) > 1 else float("nan")
    return 1.0 - noise_sd**2 / variance if variance and np.isfinite(noise_sd) else float("nan")
