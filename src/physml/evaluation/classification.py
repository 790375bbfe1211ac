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


def reliability(
    curves: dict[str, np.ndarray], y_true: np.ndarray, bins: int = 10, items: str = "items"
) -> tuple[Figure, dict[str, float]]:
    """Reliability diagram of the top-class confidence for each set of probabilities in `curves`
    (e.g. before and after calibration), and each one's expected calibration error."""
    from physml.evaluation.calibration import expected_calibration_error

    edges = np.linspace(0, 1, bins + 1)
    fig, ax = plt.subplots(figsize=(5.2, 5.2), layout="constrained")
    ax.plot([0, 1], [0, 1], color="grey", ls="--", label="perfect calibration")
    eces = {}
    for (label, probs), colour in zip(curves.items(), ("tab:orange", "tab:blue", "tab:green", "tab:red")):
        confidence = probs.max(axis=1)
        correct = probs.argmax(axis=1) == y_true
        which = np.clip(np.digitize(confidence, edges) - 1, 0, bins - 1)
        used = [b for b in range(bins) if (which == b).any()]
        centres = [confidence[which == b].mean() for b in used]
        accuracy = [correct[which == b].mean() for b in used]
        eces[label] = expected_calibration_error(probs, y_true, bins)
        ax.plot(centres, accuracy, marker="o", color=colour, label=f"{label} (ECE {eces[label]:.3f})")
        for x, y, b in zip(centres, accuracy, used):
            ax.annotate(
                str((which == b).sum()), (x, y), xytext=(4, -12), textcoords="offset points", fontsize=7, color=colour
            )
    ax.set(
        xlabel="confidence (top-class probability)",
        ylabel="accuracy",
        xlim=(0, 1),
        ylim=(0, 1.02),
        title=f"reliability (numbers = {items} per bin)",
    )
    ax.legend(loc="upper left", fontsize=8)
    return fig, eces


def top_two(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of the two most probable classes, their probabilities' margin."""
    order = np.argsort(probs, axis=1)
    first, second = order[:, -1], order[:, -2]
    rows = np.arange(len(probs))
    return first, second, probs[rows, first] - probs[rows, second]


def set_labels(sets: np.ndarray, names: list[str]) -> list[str]:
    """Each row's prediction set as text: "spiral|barred_spiral", "" for an empty set."""
    return ["|".join(np.asarray(names)[row]) for row in sets]


def review_table(
    ids,
    probs: np.ndarray,
    y_true: np.ndarray,
    names: list[str],
    review: np.ndarray,
    sets: np.ndarray | None = None,
    id_column: str = "id",
) -> pd.DataFrame:
    """The items marked for `review` (a boolean per row), least certain first: with `sets`, empty sets,
    then the largest sets, each by top-two margin; without, by margin."""
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
    order = ["margin"]
    if sets is not None:
        size = sets.sum(axis=1)
        table["prediction_set"] = set_labels(sets, names)
        table["set_size"] = size
        table["_rank"] = np.where(size == 0, len(names) + 1, size)  # an empty set: the least certain
        order = ["_rank", "margin"]
    ascending = [False, True] if sets is not None else [True]
    table = table[np.asarray(review, dtype=bool)].sort_values(order, ascending=ascending, kind="stable")
    return table.drop(columns=["_rank"], errors="ignore").reset_index(drop=True)


def accuracy_vs_review(
    probs: np.ndarray, y_true: np.ndarray, review: np.ndarray, rule: str, items: str = "items"
) -> tuple[Figure, dict[str, float]]:
    """Accuracy on the confident part as more of the least confident items (by top-two margin) go to
    people, and where the review rule (`review`: a boolean per row; `rule` names it) lands."""
    _, _, margin = top_two(probs)
    correct = probs.argmax(axis=1) == y_true
    order = np.argsort(margin)  # least confident first
    fractions = np.linspace(0, 0.9, 46)
    accuracies = [correct[order[round(f * len(order)) :]].mean() for f in fractions]
    confident = ~np.asarray(review, dtype=bool)
    summary = {
        "review_fraction": float((~confident).mean()),
        "confident_accuracy": float(correct[confident].mean()) if confident.any() else float("nan"),
    }
    fig, ax = plt.subplots(figsize=(6, 4.2), layout="constrained")
    ax.plot(fractions, accuracies, color="tab:blue", label="by top-two margin")
    ax.scatter(
        [summary["review_fraction"]],
        [summary["confident_accuracy"]],
        color="tab:red",
        zorder=3,
        label=f"{rule}: review {summary['review_fraction']:.0%}, accuracy on the rest {summary['confident_accuracy']:.1%}",
    )
    ax.set(
        xlabel=f"fraction of test {items} sent to review (least confident first)",
        ylabel=f"accuracy on the {items} kept",
        title="human review vs accuracy",
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return fig, summary
