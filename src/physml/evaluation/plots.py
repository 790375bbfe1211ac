"""Error plots for a regression: functions from arrays to a matplotlib Figure.

The caller names the quantity and its unit (`label="Tc", unit="K"`); nothing here knows the task.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


def _axis(kind: str, label: str, unit: str) -> str:
    return f"{kind} {label}" + (f" ({unit})" if unit else "")


def predicted_vs_true(y_true, y_pred, title: str = "", label: str = "target", unit: str = "") -> Figure:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    fig, ax = plt.subplots(figsize=(5.5, 5.5), layout="constrained")
    ax.scatter(y_true, y_pred, s=4, alpha=0.35, color="tab:blue", edgecolors="none")
    hi = float(max(y_true.max(), y_pred.max())) * 1.03
    lo = float(min(0.0, y_pred.min()))
    ax.plot([lo, hi], [lo, hi], color="black", lw=1, label="y = x")
    ax.set(
        xlim=(lo, hi),
        ylim=(lo, hi),
        xlabel=_axis("true", label, unit),
        ylabel=_axis("predicted", label, unit),
        title=title,
    )
    ax.set_aspect("equal")
    ax.legend(loc="upper left")
    return fig


def prediction_intervals(
    y_true, y_pred, low, high, title: str = "", label: str = "target", unit: str = "", max_points: int = 400
) -> Figure:
    """Test rows ordered by prediction: the interval as a band, the true values as dots, those
    outside their interval in red (a sample of `max_points` rows, spread over the range)."""
    y_true, y_pred, low, high = (np.asarray(a, dtype="float64") for a in (y_true, y_pred, low, high))
    order = np.argsort(y_pred)
    order = order[np.linspace(0, len(order) - 1, min(max_points, len(order))).astype(int)]
    x = np.arange(len(order))
    outside = (y_true[order] < low[order]) | (y_true[order] > high[order])
    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    ax.fill_between(x, low[order], high[order], color="tab:blue", alpha=0.25, lw=0, label="interval")
    ax.plot(x, y_pred[order], color="tab:blue", lw=1, label="predicted")
    ax.scatter(x[~outside], y_true[order][~outside], s=5, color="black", label="true, inside")
    ax.scatter(x[outside], y_true[order][outside], s=9, color="tab:red", label=f"true, outside ({outside.mean():.0%})")
    ax.set(xlabel="test rows, ordered by prediction", ylabel=_axis("", label, unit).strip(), title=title)
    ax.legend(loc="upper left", fontsize=8)
    return fig


def cumulative_abs_error(
    y_true, y_pred, title: str = "", label: str = "target", unit: str = "", mark_quantile: float = 0.9
) -> Figure:
    """Fraction of test rows whose |error| is below x (e.g. '90% of errors below 20 K')."""
    errors = np.sort(np.abs(np.asarray(y_true) - np.asarray(y_pred)))
    fraction = np.arange(1, len(errors) + 1) / len(errors)
    mark = float(np.quantile(errors, mark_quantile))
    fig, ax = plt.subplots(figsize=(6, 4.2), layout="constrained")
    ax.plot(errors, fraction, color="tab:blue")
    ax.axhline(mark_quantile, color="grey", ls="--", lw=0.8)
    ax.axvline(mark, color="tab:red", ls="--", lw=0.8)
    ax.annotate(
        f"{mark_quantile:.0%} of errors < {mark:.3g} {unit}".rstrip(),
        (mark, mark_quantile),
        xytext=(8, -18),
        textcoords="offset points",
        color="tab:red",
    )
    ax.set(
        xlabel=_axis("|predicted - true|", label, unit),
        ylabel="cumulative fraction of the test part",
        title=title,
        ylim=(0, 1.01),
        xlim=(0, float(np.quantile(errors, 0.995))),
    )
    ax.grid(alpha=0.3)
    return fig


def residual_vs_true(y_true, y_pred, title: str = "", label: str = "target", unit: str = "") -> Figure:
    y_true = np.asarray(y_true)
    residual = np.asarray(y_pred) - y_true
    fig, ax = plt.subplots(figsize=(6.5, 4.2), layout="constrained")
    ax.scatter(y_true, residual, s=4, alpha=0.35, color="tab:purple", edgecolors="none")
    ax.axhline(0, color="black", lw=1)
    ax.set(xlabel=_axis("true", label, unit), ylabel=_axis("predicted - true", label, unit), title=title)
    ax.grid(alpha=0.3)
    return fig


def training_curves(
    history: dict[str, list[float]],
    title: str = "",
    unit: str = "",
    every: int = 1,
    xlabel: str = "epoch",
    keys: tuple[str, ...] = ("train_rmse", "val_rmse"),
) -> Figure:
    """RMSE per epoch (or per `every` boosting rounds, `xlabel` "boosting round") of the training and
    validation parts, or of the curves `keys` names."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2), layout="constrained")
    for key in keys:
        if history.get(key):
            ax.plot(every * np.arange(1, len(history[key]) + 1), history[key], label=key)
    ax.set(xlabel=xlabel, ylabel="RMSE" + (f" ({unit})" if unit else ""), title=title)
    ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def history_panels(history: dict[str, list[float]], panels: dict[str, tuple[str, ...]], title: str = "") -> Figure:
    """One panel per metric family (e.g. loss: loss, val_loss), epochs on x."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8), squeeze=False, layout="constrained")
    for ax, (panel, keys) in zip(axes[0], panels.items()):
        for key in keys:
            if history.get(key):
                ax.plot(np.arange(1, len(history[key]) + 1), history[key], marker=".", label=key)
        ax.set(xlabel="epoch", title=panel)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    return fig
