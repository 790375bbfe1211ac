"""Everything logged about a trained galaxy CNN on the test part: metrics, confusion matrices,
calibration (before and after temperature scaling), conformal prediction sets, accuracy by volunteer
agreement, test-time augmentation and dihedral consistency, the review list, activation maps and filters."""

from __future__ import annotations

import keras
import mlflow
import numpy as np
import pandas as pd

from physml.evaluation import classification as cls
from physml.evaluation import vision
from physml.evaluation.calibration import Calibration, ece_change
from physml.run_result import EvidencePart, RunEvidence
from physml.tasks.galaxy import uncertainty as unc
from physml.tasks.galaxy.cnn import conv_layer_names, member_nets
from physml.tasks.galaxy.config import GalaxyConfig
from physml.tasks.galaxy.data import GalaxySet
from physml.tasks.galaxy.preprocess import dihedral_views, net_outputs
from physml.tasks.galaxy.targets import ID_COLUMN, galaxy_target
from physml.tracking.runs import log_figure

ITEMS = "galaxies"


def log_classification_report(
    config: GalaxyConfig, model: keras.Model, data: GalaxySet, calibration: Calibration | None = None
) -> dict[str, float]:
    """The test part's metrics and figures, from the probabilities `calibration` gives (the served
    model's), beside the raw ones where calibration changes them."""
    test = data.split["test"]
    images = unc.part_images(config, data, "test")
    y_true = data.labels[test]
    names = data.class_names
    outputs = net_outputs(model, images, config.evaluation.tta)
    metrics: dict[str, float] = {}
    target = galaxy_target(config)
    metrics.update({f"test_{key}": value for key, value in target.scores(data.targets[test], outputs).items()})
    target.log_predictions(data.ids[test], outputs)
    raw = unc.class_probabilities(config, outputs)
    probs = unc.calibrated(raw, calibration)
    metrics.update(cls.classification_metrics(y_true, probs, names))

    views = [unc.class_probabilities(config, net_outputs(model, view, tta=False)) for view in dihedral_views(images)]
    metrics["test_tta_accuracy"] = float((np.mean(views, axis=0).argmax(axis=1) == y_true).mean())
    metrics["test_dihedral_consistency"] = unc.dihedral_consistency(views)
    metrics.update(member_metrics(config, model, images, y_true, data.targets[test]))

    predicted = probs.argmax(axis=1)
    log_figure(cls.confusion_figure(y_true, predicted, names, normalise=False), "plots/confusion_counts.png")
    log_figure(cls.confusion_figure(y_true, predicted, names, normalise=True), "plots/confusion_normalised.png")
    metrics.update(log_calibration(raw, probs, y_true, calibration))

    val_probs = unc.calibrated(unc.raw_probabilities(config, model, unc.part_images(config, data, "val")), calibration)
    sets, set_figures = unc.prediction_sets(config, model, data, calibration, probs, val_probs)
    metrics.update(set_figures)
    metrics.update(unc.agreement_accuracy(data, probs))
    log_review(config, data, images, probs, y_true, sets, metrics)
    if config.evaluation.network_views:  # an ensemble's: its first member's
        log_network_views(config, member_nets(model)[0], images, data.ids[test], predicted, y_true, names)
    mlflow.log_metrics(metrics)
    return metrics, declared_evidence(config, data, {"val": val_probs, "test": probs})


def declared_evidence(config: GalaxyConfig, data: GalaxySet, probabilities: dict[str, np.ndarray]) -> RunEvidence:
    """The split as the platform's evidence reads it (tracking/evidence.py): every part's galaxy ids
    and small pictures (the k-NN baseline's features), the validation and test parts' calibrated
    probabilities, and the test galaxies' vote agreement as a stratum."""
    parts = {}
    for name in ("train", "val", "calibration", "test"):
        rows = data.split[name]
        probs = probabilities.get(name)
        parts[name] = EvidencePart(
            y=data.labels[rows],
            predicted=None if probs is None else probs.argmax(axis=1),
            features=thumbnails(data.images[rows]),
            ids=data.ids[rows],
            probabilities=probs,
        )
    parts["test"].strata = {"vote_agreement": agreement_bins(unc.vote_agreement(data, "test"))}
    classes = tuple(data.class_names)
    return RunEvidence("classification", "stratified", False, parts, classes=classes, seed=config.seed)


def thumbnails(images: np.ndarray, size: int = 10) -> np.ndarray:
    """Each image averaged down to size x size pixels per channel, flattened: what k-NN compares."""
    n, height, width, channels = images.shape
    step_h, step_w = height // size, width // size
    cropped = images[:, : step_h * size, : step_w * size].astype("float32")
    return cropped.reshape(n, size, step_h, size, step_w, channels).mean(axis=(2, 4)).reshape(n, -1)


def agreement_bins(agreement: np.ndarray) -> pd.Categorical:
    """Vote agreement in bins (below 0.5, 0.5-0.8, 0.8-0.9, 0.9 and above)."""
    names = ["below_0.5", "0.5-0.8", "0.8-0.9", "0.9_and_above"]
    return pd.cut(agreement, [-np.inf, 0.5, 0.8, 0.9, np.inf], right=False, labels=names)


def member_metrics(
    config: GalaxyConfig, model: keras.Model, images: np.ndarray, y_true: np.ndarray, targets: np.ndarray
) -> dict[str, float]:
    """A seed ensemble's members scored alone on the test part (raw outputs, the model's views), to show
    what averaging them gained; nothing for a single net."""
    nets = member_nets(model)
    if len(nets) == 1:
        return {}
    metrics = {}
    for k, net in enumerate(nets):
        outputs = net_outputs(net, images, config.evaluation.tta)
        scores = galaxy_target(config).scores(targets, outputs)
        metrics.update({f"member{k + 1}/test_{key}": value for key, value in scores.items()})
        probs = unc.class_probabilities(config, outputs)
        metrics[f"member{k + 1}/test_accuracy"] = float((probs.argmax(axis=1) == y_true).mean())
    return metrics


def log_calibration(
    raw: np.ndarray, probs: np.ndarray, y_true: np.ndarray, calibration: Calibration | None
) -> dict[str, float]:
    """ECE (and, calibrated, ECE before scaling, the change with its paired bootstrap CI, the
    temperature of temperature scaling) and the reliability diagram of both."""
    if calibration is None:
        figure, eces = cls.reliability({"model": probs}, y_true, items=ITEMS)
        log_figure(figure, "plots/reliability.png")
        return {"test_ece": eces["model"]}
    after = f"{calibration.method} scaled" + (
        f" (T = {calibration.temperature:.2f})" if calibration.temperature is not None else ""
    )
    figure, eces = cls.reliability({"before scaling": raw, after: probs}, y_true, items=ITEMS)
    log_figure(figure, "plots/reliability.png")
    change, low, high = ece_change(raw, probs, y_true)
    metrics = {
        "test_ece": eces[after],
        "test_ece_before_scaling": eces["before scaling"],
        "test_ece_change": change,
        "test_ece_change_ci_low": low,
        "test_ece_change_ci_high": high,
        "test_raw_accuracy": float((raw.argmax(axis=1) == y_true).mean()),  # before: scaling may move the top class
    }
    if calibration.temperature is not None:
        metrics["temperature"] = calibration.temperature
    return metrics


def log_review(
    config: GalaxyConfig,
    data: GalaxySet,
    images: np.ndarray,
    probs: np.ndarray,
    y_true: np.ndarray,
    sets: np.ndarray,
    metrics: dict[str, float],
) -> None:
    """review/review.csv: the galaxies for people to look at (evaluation.review_rule: those whose
    conformal set is not a single class, or whose top-two margin is below evaluation.review_margin),
    the accuracy on the rest, and a contact sheet of the 25 least certain with their sets."""
    ids = data.ids[data.split["test"]]
    names = data.class_names
    if config.evaluation.review_rule == "set":
        review = sets.sum(axis=1) != 1
        rule = f"{config.evaluation.set_level:.0%} set not one class"
    else:
        review = cls.top_two(probs)[2] < config.evaluation.review_margin
        rule = f"margin < {config.evaluation.review_margin}"
    table = cls.review_table(ids, probs, y_true, names, review, sets, ID_COLUMN)
    mlflow.log_text(table.to_csv(index=False), "review/review.csv")
    figure, summary = cls.accuracy_vs_review(probs, y_true, review, rule, items=ITEMS)
    metrics.update({f"test_{key}": value for key, value in summary.items()})
    log_figure(figure, "review/accuracy_vs_review_fraction.png")

    everyone = np.ones(len(ids), dtype=bool)
    every_galaxy = cls.review_table(ids, probs, y_true, names, everyone, sets, ID_COLUMN)
    # every test galaxy's prediction: runs on the same split compare galaxy by galaxy (paired)
    mlflow.log_text(every_galaxy.sort_values(ID_COLUMN).to_csv(index=False), "predictions/test_predictions.csv")
    least = every_galaxy.head(25)
    position = {galaxy: row for row, galaxy in enumerate(ids)}
    sheet = images[[position[g] for g in least[ID_COLUMN]]].astype("uint8")
    titles = [
        f"{g}\n{{{s.replace('|', ', ')}}}\ntrue {t}"
        for g, s, t in least[[ID_COLUMN, "prediction_set", "true_class"]].itertuples(index=False)
    ]
    title = f"25 least certain test galaxies, with their {config.evaluation.set_level:.0%} prediction sets"
    log_figure(vision.image_grid(sheet, titles, 5, title, cell=2.0), "review/least_confident.png")


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
            f"calibration        ECE {m['test_ece']:.3f}"
            + (
                f" (before scaling {m['test_ece_before_scaling']:.3f}; accuracy before {m['test_raw_accuracy']:.3f})"
                if "test_ece_before_scaling" in m
                else ""
            )
        ),
        (
            f"prediction sets    coverage {m['test_set_coverage']:.3f}, mean size {m['test_set_size']:.2f}, "
            f"single class {m['test_set_singleton_fraction']:.1%} (accuracy {m['test_set_singleton_accuracy']:.3f})"
        ),
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
