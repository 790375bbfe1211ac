"""Search plots: grid heatmaps, optimisation history, parallel coordinates, parameter importance.
Functions from a results table to a figure; the search logs them."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def grid_heatmaps(results: pd.DataFrame, x: str, y: str, panel: str | None, metric: str, mode: str) -> Figure:
    """One panel per value of `panel`: metric over the x-y grid, diverged cells marked."""
    panels = sorted(results[panel].unique()) if panel else [None]
    xs, ys = sorted(results[x].unique()), sorted(results[y].unique())
    fig, axes = plt.subplots(1, len(panels), figsize=(4.8 * len(panels) + 1, 4.2), squeeze=False, layout="constrained")
    finite = results[metric][np.isfinite(results[metric])]
    vmin, vmax = (finite.min(), finite.max()) if len(finite) else (0, 1)
    cmap = plt.get_cmap("viridis_r" if mode == "min" else "viridis")
    for ax, value in zip(axes[0], panels):
        part = results if panel is None else results[results[panel] == value]
        grid = np.full((len(ys), len(xs)), np.nan)
        diverged = np.zeros_like(grid, dtype=bool)
        for _, row in part.iterrows():
            i, j = ys.index(row[y]), xs.index(row[x])
            grid[i, j] = row[metric]
            diverged[i, j] = bool(row.get("diverged", 0)) or not np.isfinite(row[metric])
        image = ax.imshow(grid, cmap=cmap, vmin=vmin, vmax=vmax, origin="lower", aspect="auto")
        for (i, j), val in np.ndenumerate(grid):
            label = "diverged" if diverged[i, j] else ("" if np.isnan(val) else f"{val:.3g}")
            light = np.isfinite(val) and sum(cmap((val - vmin) / ((vmax - vmin) or 1))[:3]) > 1.8
            ax.text(
                j,
                i,
                label,
                ha="center",
                va="center",
                fontsize=8,
                color="red" if diverged[i, j] else ("black" if light else "white"),
            )
        ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs])
        ax.set_yticks(range(len(ys)), [f"{v:g}" for v in ys])
        ax.set(xlabel=x, ylabel=y, title=f"{panel} = {value}" if panel else "")
    fig.colorbar(image, ax=axes[0].tolist(), label=metric)
    fig.suptitle(f"grid search: {metric} ({'lower' if mode == 'min' else 'higher'} is better)")
    return fig


def optimisation_history(values: np.ndarray, metric: str, mode: str) -> Figure:
    """Each trial's metric in completion order, and the best so far."""
    values = np.asarray(values, dtype=float)
    clean = np.where(np.isfinite(values), values, np.nan)
    best = (np.fmin if mode == "min" else np.fmax).accumulate(
        np.nan_to_num(clean, nan=np.inf if mode == "min" else -np.inf)
    )
    fig, ax = plt.subplots(figsize=(6.5, 4.2), layout="constrained")
    trials = np.arange(1, len(values) + 1)
    ax.scatter(trials, clean, color="tab:blue", label="trial")
    ax.plot(
        trials, np.where(np.isfinite(best), best, np.nan), color="tab:red", drawstyle="steps-post", label="best so far"
    )
    ax.set(xlabel="trial (completion order)", ylabel=metric, title="optimisation history")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def parallel_coordinates(results: pd.DataFrame, params: list[str], metric: str, mode: str) -> Figure:
    """Each trial a line across its (min-max scaled) parameters, coloured by the metric."""
    finite = results[np.isfinite(results[metric])]
    fig, ax = plt.subplots(figsize=(1.8 * len(params) + 3, 4.2), layout="constrained")
    if finite.empty:
        ax.set_title("no finished trial")
        return fig
    scaled = pd.DataFrame(index=finite.index)
    for name in params:
        column = pd.to_numeric(finite[name], errors="coerce") if finite[name].map(np.isscalar).all() else None
        if column is None or column.isna().any():
            column = finite[name].astype(str).astype("category").cat.codes.astype(float)
        if name.endswith("learning_rate"):
            column = np.log10(column)
        span = column.max() - column.min()
        scaled[name] = (column - column.min()) / span if span else 0.5
    cmap = plt.get_cmap("viridis_r" if mode == "min" else "viridis")
    norm = plt.Normalize(finite[metric].min(), finite[metric].max())
    for index, row in scaled.iterrows():
        ax.plot(range(len(params)), row.to_numpy(), color=cmap(norm(finite.at[index, metric])), alpha=0.8)
    ax.set_xticks(range(len(params)), params, rotation=20)
    ax.set(ylabel="scaled value (learning rates on log scale)", title="parallel coordinates")
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=metric)
    return fig


def importance_bars(importances: dict[str, float]) -> Figure:
    fig, ax = plt.subplots(figsize=(6, 0.5 * len(importances) + 1.5), layout="constrained")
    names = list(importances)[::-1]
    ax.barh(names, [importances[n] for n in names], color="tab:blue")
    ax.set(xlabel="importance (Optuna fANOVA)", title="hyperparameter importance")
    return fig
