"""Everything logged about a trained galaxy CNN on the test part: metrics, confusion matrices,
calibration, test-time augmentation, the low-confidence review list, activation maps and filters."""

from __future__ import annotations

import keras
import mlflow
import numpy as np
import pandas as pd

from physml.evaluation import classification as cls
from physml.evaluation import vision
from physml.tasks.galaxy.cnn import conv_layer_names
from physml.tasks.galaxy.config import GalaxyConfig
from physml.tasks.galaxy.data import GalaxySet
from physml.tasks.galaxy.gz2_tree import GZ2
from physml.tasks.galaxy.images import centre_crop, dihedral_views
from physml.tracking.runs import log_figure

ID_COLUMN = "GalaxyID"
ITEMS = "galaxies"


def class_probabilities(config: GalaxyConfig, outputs: np.ndarray) -> np.ndarray:
    """Softmax outputs as they are; predicted vote fractions turned into the 5 tree-derived classes."""
    if config.data.target != "regression":
        return outputs
    fractions = pd.DataFrame(np.clip(outputs, 0, 1), columns=GZ2.columns)
    return GZ2.class_probabilities(fractions, include_other=True).to_numpy()


def log_classification_report(config: GalaxyConfig, model: keras.Model, data: GalaxySet) -> dict[str, float]:
    test = data.split["test"]
    images = centre_crop(data.images[test], config.data.input_size).astype("float32")
    y_true = data.labels[test]
    names = data.class_names
    outputs = np.asarray(model.predict(images, batch_size=256, verbose=0))
    metrics: dict[str, float] = {}
    if config.data.target == "regression":
        metrics["test_rmse"] = float(np.sqrt(((outputs - data.targets[test]) ** 2).mean()))  # the Kaggle metric
    probs = class_probabilities(config, outputs)
    metrics.update(cls.classification_metrics(y_true, probs, names))

    views = [np.asarray(model.predict(v.copy(), batch_size=256, verbose=0)) for v in dihedral_views(images)]
    tta_probs = class_probabilities(config, np.mean(views, axis=0))
    metrics["test_tta_accuracy"] = float((tta_probs.argmax(axis=1) == y_true).mean())

    predicted = probs.argmax(axis=1)
    log_figure(cls.confusion_figure(y_true, predicted, names, normalise=False), "plots/confusion_counts.png")
    log_figure(cls.confusion_figure(y_true, predicted, names, normalise=True), "plots/confusion_normalised.png")
    figure, metrics["test_ece"] = cls.reliability(probs, y_true, items=ITEMS)
    log_figure(figure, "plots/reliability.png")

    log_review(config, data, images, probs, y_true, metrics)
    if config.evaluation.network_views:
        log_network_views(config, model, images, data.ids[test], predicted, y_true, names)
    mlflow.log_metrics(metrics)
    return metrics


def log_review(
    config: GalaxyConfig,
    data: GalaxySet,
    images: np.ndarray,
    probs: np.ndarray,
    y_true: np.ndarray,
    metrics: dict[str, float],
) -> None:
    threshold = config.evaluation.review_margin
    ids = data.ids[data.split["test"]]
    review = cls.review_table(ids, probs, y_true, data.class_names, threshold, ID_COLUMN)
    mlflow.log_text(review.to_csv(index=False), "review/review.csv")
    figure, summary = cls.accuracy_vs_review(probs, y_true, threshold, items=ITEMS)
    metrics.update({f"test_{key}": value for key, value in summary.items()})
    log_figure(figure, "review/accuracy_vs_review_fraction.png")

    least = cls.review_table(ids, probs, y_true, data.class_names, np.inf, ID_COLUMN).head(25)
    position = {galaxy: row for row, galaxy in enumerate(ids)}
    sheet = images[[position[g] for g in least[ID_COLUMN]]].astype("uint8")
    titles = [
        f"{g}\npred {p} ({q:.2f})\ntrue {t}"
        for g, p, q, t in least[[ID_COLUMN, "top_class", "top_probability", "true_class"]].itertuples(index=False)
    ]
    log_figure(
        vision.image_grid(sheet, titles, 5, "25 least confident test galaxies", cell=2.0), "review/least_confident.png"
    )


def log_network_views(
    config: GalaxyConfig,
    model: keras.Model,
    images: np.ndarray,
    ids: np.ndarray,
    predicted: np.ndarray,
    y_true: np.ndarray,
    names: list[str],
) -> None:
    conv_layers = conv_layer_names(model)
    count = config.evaluation.activation_galaxies
    titles = [
        f"{g}\npred {names[p]}, true {names[t]}" for g, p, t in zip(ids[:count], predicted[:count], y_true[:count])
    ]
    figure = vision.activation_maps(model, conv_layers[0], images[:count], titles)
    log_figure(figure, f"network/activation_maps_{conv_layers[0]}.png")
    mean_galaxy = images.mean(axis=0)
    for layer in dict.fromkeys([conv_layers[0], conv_layers[-1]]):
        patterns, responded = vision.filter_patterns(
            model,
            layer,
            config.evaluation.visualised_filters,
            config.evaluation.filter_steps,
            mean_galaxy,
            seed=config.seed,
        )
        titles = [f"filter {k}" + ("" if active else " (silent)") for k, active in enumerate(responded)]
        grid = vision.image_grid(
            patterns, titles, 8, f"{layer}: inputs that excite each filter (gradient ascent from the mean galaxy)"
        )
        log_figure(grid, f"network/filters_{layer}.png")


def run_summary(result) -> str:
    """What `physml galaxy train` prints: the headline test metrics of the run."""
    if result.diverged:
        return f"cnn diverged (run {result.run_id}, tag diverged=true)"
    m = result.metrics
    lines = [
        (
            f"test accuracy      {m['test_accuracy']:.3f}  (majority class {m['test_majority_rate']:.3f}; "
            f"8-view TTA {m['test_tta_accuracy']:.3f}; top-2 {m['test_top2_accuracy']:.3f})"
        ),
        f"macro-F1           {m['test_macro_f1']:.3f}",
        (
            f"review list        {m['test_review_fraction']:.1%} of test galaxies; accuracy on the rest "
            f"{m['test_confident_accuracy']:.3f}"
        ),
    ]
    if "test_rmse" in m:
        lines.insert(0, f"test RMSE (37 vote fractions, Kaggle metric) {m['test_rmse']:.4f}")
    if result.registered_name:
        lines.append(f"registered         {result.registered_name} v{result.registered_version}")
    return "\n".join(lines)
