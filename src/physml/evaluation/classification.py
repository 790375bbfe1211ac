"""Classification metrics and plots: functions from labels/probabilities to numbers or figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support


def classification_metrics(y_true: np.ndarray, probs: np.ndarray, names: list[str], prefix: str = "test_") -> dict:
    predicted = probs.argmax(axis=1)
    top2 = np.argsort(probs, axis=1)[:, -2:]
    labels = list(range(len(names)))
    precision, recall, _, _ = precision_recall_fscore_support(y_true, predicted, labels=labels, zero_division=0)
    metrics = {
        "accuracy": float((predicted == y_true).mean()),
        "macro_f1": float(f1_score(y_true, predicted, labels=labels, average="macro", zero_division=0)),
        "top2_accuracy": float((top2 == y_true[:, None]).any(axis=1).mean()),
        "majority_rate": float(np.bincount(y_true, minlength=len(names)).max() / len(y_true)),
    }
    for index, name in enumerate(names):
        metrics[f"precision_{name}"] = float(precision[index])
        metrics[f"recall_{name}"] = float(recall[index])
    return {prefix + key: value for key, value in metrics.items()}


def confusion_figure(y_true: np.ndarray, predicted: np.ndarray, names: list[str], normalise: bool) -> Figure:
    matrix = confusion_matrix(y_true, predicted, labels=list(range(len(names)))).astype(float)
    if normalise:
        matrix = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.3 * len(names) + 2.5, 1.2 * len(names) + 2), layout="constrained")
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1 if normalise else None)
    for (i, j), value in np.ndenumerate(matrix):
        text = f"{value:.2f}" if normalise else f"{int(value)}"
        ax.text(j, i, text, ha="center", va="center", color="white" if value > matrix.max() / 2 else "black")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set(
        xlabel="predicted",
        ylabel="true",
        title="confusion matrix" + (" (row-normalised)" if normalise else " (counts)"),
    )
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def class_counts_figure(counts: pd.Series, title: str, items: str = "items") -> Figure:
    fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
    bars = ax.bar(counts.index.astype(str), counts.to_numpy(), color="tab:blue")
    ax.bar_label(bars)
    ax.set(ylabel=items, title=title)
    return fig


def reliability(probs: np.ndarray, y_true: np.ndarray, bins: int = 10, items: str = "items") -> tuple[Figure, float]:
    """Reliability diagram of the top-class confidence, and the expected calibration error."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges) - 1, 0, bins - 1)
    centres, accuracy, counts = [], [], []
    ece = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            centres.append(confidence[mask].mean())
            accuracy.append(correct[mask].mean())
            counts.append(mask.sum())
            ece += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    fig, ax = plt.subplots(figsize=(5, 5), layout="constrained")
    ax.plot([0, 1], [0, 1], color="grey", ls="--", label="perfect calibration")
    ax.plot(centres, accuracy, marker="o", color="tab:blue", label="model")
    for x, y, n in zip(centres, accuracy, counts):
        ax.annotate(str(n), (x, y), xytext=(4, -12), textcoords="offset points", fontsize=7, color="grey")
    ax.set(
        xlabel="confidence (top-class probability)",
        ylabel="accuracy",
        xlim=(0, 1),
        ylim=(0, 1.02),
        title=f"reliability (ECE {ece:.3f}; numbers = {items} per bin)",
    )
    ax.legend(loc="upper left")
    return fig, float(ece)


def top_two(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of the two most probable classes, their probabilities' margin."""
    order = np.argsort(probs, axis=1)
    first, second = order[:, -1], order[:, -2]
    rows = np.arange(len(probs))
    return first, second, probs[rows, first] - probs[rows, second]


def review_table(
    ids, probs: np.ndarray, y_true: np.ndarray, names: list[str], margin_below: float, id_column: str = "id"
) -> pd.DataFrame:
    """Items the model is unsure of (top-two margin below the threshold), least confident first."""
    first, second, margin = top_two(probs)
    rows = np.arange(len(probs))
    table = pd.DataFrame(
        {
            id_column: np.asarray(ids),
            "top_class": np.asarray(names)[first],
            "top_probability": probs[rows, first],
            "second_class": np.asarray(names)[second],
            "second_probability": probs[rows, second],
            "margin": margin,
            "true_class": np.asarray(names)[y_true],
        }
    )
    return table[table["margin"] < margin_below].sort_values("margin").reset_index(drop=True)


def accuracy_vs_review(
    probs: np.ndarray, y_true: np.ndarray, threshold: float, items: str = "items"
) -> tuple[Figure, dict[str, float]]:
    """Accuracy on the confident part as more of the least confident items go to people."""
    _, _, margin = top_two(probs)
    correct = probs.argmax(axis=1) == y_true
    order = np.argsort(margin)  # least confident first
    fractions = np.linspace(0, 0.9, 46)
    accuracies = [correct[order[round(f * len(order)) :]].mean() for f in fractions]
    confident = margin >= threshold
    summary = {
        "review_fraction": float((~confident).mean()),
        "confident_accuracy": float(correct[confident].mean()) if confident.any() else float("nan"),
    }
    fig, ax = plt.subplots(figsize=(6, 4.2), layout="constrained")
    ax.plot(fractions, accuracies, color="tab:blue")
    ax.scatter(
        [summary["review_fraction"]],
        [summary["confident_accuracy"]],
        color="tab:red",
        zorder=3,
        label=f"margin < {threshold}: review {summary['review_fraction']:.0%}, "
        f"accuracy on the rest {summary['confident_accuracy']:.1%}",
    )
    ax.set(
        xlabel=f"fraction of test {items} sent to review (least confident first)",
        ylabel=f"accuracy on the {items} kept",
        title="human review vs accuracy",
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return fig, summary
