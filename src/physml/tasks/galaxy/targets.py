"""galaxy's targets as one table: what `data.target` changes, so that no other module branches on it.

- classes4 / classes5: the decision tree's most probable class (classes4 leaves out galaxies whose
  most probable class is "other"); a softmax net, compiled with focal loss, picked on validation
  accuracy, calibrated on the calibration part.
- regression: the 37 vote fractions (Kaggle's target); a net scored by the RMSE over all of them (the
  Kaggle metric), its class probabilities derived from the predicted fractions through the tree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import mlflow
import numpy as np
import pandas as pd

from physml.evaluation.metrics import rmse
from physml.tasks.galaxy.gz2_tree import GZ2

ID_COLUMN = "GalaxyID"


def vote_rmse(targets: np.ndarray, outputs: np.ndarray) -> float:
    """RMSE over every galaxy's 37 vote fractions at once (the Kaggle metric)."""
    return float(rmse(np.ravel(targets), np.ravel(outputs)))


def log_votes(ids: np.ndarray, outputs: np.ndarray) -> None:
    """predictions/test_votes.csv: every test galaxy's 37 predicted vote fractions in Kaggle's
    submission layout (GalaxyID, Class1.1, ...), so runs on the same split compare galaxy by galaxy."""
    table = pd.DataFrame(outputs, columns=GZ2.columns)
    table.insert(0, ID_COLUMN, ids)
    mlflow.log_text(table.sort_values(ID_COLUMN).to_csv(index=False, float_format="%.6f"), "predictions/test_votes.csv")


@dataclass(frozen=True)
class GalaxyTarget:
    """One row of the table."""

    monitor: tuple[str, str]  # the validation metric that picks the best epoch, and its direction
    curves: dict[str, tuple[str, ...]]  # training-curve panels besides the loss
    # compile(model, training settings, training labels, number of classes, steps per epoch)
    compile: Callable[..., None]
    # targets(votes of the kept galaxies, their labels, class names, soft labels?) -> what the net fits
    targets: Callable[[pd.DataFrame, np.ndarray, list[str], bool], np.ndarray]
    # scores(fitted targets, outputs) -> the target's own metrics (the classes' are computed for every target)
    scores: Callable[[np.ndarray, np.ndarray], dict[str, float]]
    # probabilities(outputs) -> the tree-derived class probabilities the outputs stand for
    probabilities: Callable[[np.ndarray], np.ndarray]
    # the monitor's value on the validation part: (fitted targets, labels, outputs) -> float
    validation: Callable[[np.ndarray, np.ndarray, np.ndarray], float]
    # log_predictions(galaxy ids, test outputs): what the target's predictions are logged as
    log_predictions: Callable[[np.ndarray, np.ndarray], None]
    # output(model.tree_output) -> the output layer build_cnn gets
    output: Callable[[bool], str]
    calibrated: bool  # a softmax, which calibration can rescale
    # params(training settings, training labels, number of classes) -> what the run logs about the loss
    params: Callable[..., dict[str, str]] = lambda training, labels, n_classes: {}
    keeps_other: bool = True  # classes4 leaves out the galaxies whose most probable class is "other"


def compile_classes(model, training, labels: np.ndarray, n_classes: int, steps_per_epoch: int) -> None:
    from physml.tasks.galaxy.cnn import compile_classifier, focal_alpha

    compile_classifier(model, training, focal_alpha(labels, n_classes, training.class_weighted), steps_per_epoch)


def focal_params(training, labels: np.ndarray, n_classes: int) -> dict[str, str]:
    from physml.tasks.galaxy.cnn import focal_alpha

    return {"focal_alpha": ",".join(f"{a:.3f}" for a in focal_alpha(labels, n_classes, training.class_weighted))}


def compile_votes(model, training, labels: np.ndarray, n_classes: int, steps_per_epoch: int) -> None:
    from physml.tasks.galaxy.cnn import compile_regressor

    compile_regressor(model, training, steps_per_epoch)


def class_targets(votes: pd.DataFrame, labels: np.ndarray, names: list[str], soft: bool) -> np.ndarray:
    if not soft:
        return np.eye(len(names), dtype="float32")[labels]
    # the tree's probabilities of the kept classes, summing to 1 per galaxy
    probs = GZ2.class_probabilities(votes, include_other=True)[names].to_numpy(dtype="float32")
    return probs / probs.sum(axis=1, keepdims=True)


def vote_targets(votes: pd.DataFrame, labels: np.ndarray, names: list[str], soft: bool) -> np.ndarray:
    return votes[GZ2.columns].to_numpy(dtype="float32")


def vote_probabilities(outputs: np.ndarray) -> np.ndarray:
    fractions = pd.DataFrame(np.clip(outputs, 0, 1), columns=GZ2.columns)
    return GZ2.class_probabilities(fractions, include_other=True).to_numpy()


CLASSES = GalaxyTarget(
    monitor=("val_accuracy", "max"),
    curves={"accuracy": ("accuracy", "val_accuracy", "top2", "val_top2")},
    compile=compile_classes,
    targets=class_targets,
    scores=lambda targets, outputs: {},
    probabilities=lambda outputs: outputs,
    validation=lambda targets, labels, outputs: float((outputs.argmax(axis=1) == labels).mean()),
    log_predictions=lambda ids, outputs: None,  # the review list and report carry the classes
    output=lambda tree_output: "softmax",
    calibrated=True,
    params=focal_params,
)
VOTES = GalaxyTarget(
    monitor=("val_rmse", "min"),
    curves={"rmse": ("rmse", "val_rmse")},
    compile=compile_votes,
    targets=vote_targets,
    scores=lambda targets, outputs: {"rmse": vote_rmse(targets, outputs)},
    probabilities=vote_probabilities,
    validation=lambda targets, labels, outputs: vote_rmse(targets, outputs),
    log_predictions=log_votes,
    # a sigmoid each, or "tree": the decision tree's normalisation (model.tree_output)
    output=lambda tree_output: "tree" if tree_output else "sigmoid",
    calibrated=False,  # vote fractions are no softmax
)
TARGETS = {"classes4": replace(CLASSES, keeps_other=False), "classes5": CLASSES, "regression": VOTES}


def galaxy_target(config) -> GalaxyTarget:
    return TARGETS[config.data.target]
