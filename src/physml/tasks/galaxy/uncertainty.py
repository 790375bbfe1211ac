"""How far a galaxy CNN's probabilities can be trusted: their calibration (matrix or temperature
scaling) fitted on the calibration part, split-conformal prediction sets, accuracy by volunteer
agreement, and dihedral consistency.

The calibration part is carved, stratified, out of the validation part (data.calibration_fraction);
the checkpoint is chosen on the rest of it, so nothing here is fitted on data that chose the model.
The calibration is fitted first (by log loss), then the conformal quantile on the calibrated
probabilities of the same part; the coverage measured on the test part checks the promise."""

from __future__ import annotations

import keras
import numpy as np

from physml.evaluation.calibration import Calibration, fit_calibration
from physml.evaluation.conformal import conformal_sets, set_metrics
from physml.tasks.galaxy.config import GalaxyConfig
from physml.tasks.galaxy.data import GalaxySet
from physml.tasks.galaxy.gz2_tree import GZ2
from physml.tasks.galaxy.images import centre_crop
from physml.tasks.galaxy.preprocess import net_outputs
from physml.tasks.galaxy.targets import galaxy_target

AGREEMENT = (0.5, 0.8, 0.9)  # the decision tree's probability of a galaxy's top class, at least
BATCH = 256


def part_images(config: GalaxyConfig, data: GalaxySet, part: str) -> np.ndarray:
    """A part's galaxies as the CNN evaluates them: the centre crop, float32."""
    return centre_crop(data.images[data.split[part]], config.data.input_size).astype("float32")


def class_probabilities(config: GalaxyConfig, outputs: np.ndarray) -> np.ndarray:
    """Softmax outputs as they are; predicted vote fractions turned into the 5 tree-derived classes."""
    return galaxy_target(config).probabilities(outputs)


def raw_probabilities(config: GalaxyConfig, model: keras.Model, images: np.ndarray) -> np.ndarray:
    return class_probabilities(config, net_outputs(model, images, config.evaluation.tta, BATCH))


def calibrate(config: GalaxyConfig, model: keras.Model, data: GalaxySet) -> Calibration | None:
    """evaluation.calibration (matrix or temperature scaling) fitted on the calibration part, for a
    softmax target (the regression target's vote fractions are not a softmax); None for `none`."""
    if not galaxy_target(config).calibrated or config.evaluation.calibration == "none":
        return None
    probs = raw_probabilities(config, model, part_images(config, data, "calibration"))
    return fit_calibration(probs, data.labels[data.split["calibration"]], config.evaluation.calibration)


def calibrated(probs: np.ndarray, calibration: Calibration | None) -> np.ndarray:
    return calibration.apply(probs) if calibration is not None else probs


def prediction_sets(
    config: GalaxyConfig,
    model: keras.Model,
    data: GalaxySet,
    calibration: Calibration | None,
    test_probs: np.ndarray,
    val: np.ndarray,
) -> tuple[np.ndarray, dict[str, float]]:
    """The test part's conformal sets at evaluation.set_level, conformalized on the calibration part's
    (calibrated) probabilities, and their coverage, size, singletons and empties on val and test
    (`test_probs`, `val`: the parts' calibrated probabilities)."""
    level, score = config.evaluation.set_level, config.evaluation.set_score
    fitted = calibrated(raw_probabilities(config, model, part_images(config, data, "calibration")), calibration)
    labels = {part: data.labels[data.split[part]] for part in ("calibration", "val", "test")}
    val_sets = conformal_sets(fitted, labels["calibration"], val, level, score, config.seed)
    test_sets = conformal_sets(fitted, labels["calibration"], test_probs, level, score, config.seed)
    return test_sets, {
        **set_metrics(val_sets, labels["val"], "val_"),
        **set_metrics(test_sets, labels["test"], "test_"),
    }


def vote_agreement(data: GalaxySet, part: str) -> np.ndarray:
    """Each galaxy's agreement: the decision-tree probability of its top class from the volunteers' votes."""
    votes = data.catalogue.votes.loc[data.ids[data.split[part]]]
    return GZ2.class_probabilities(votes, include_other=True).to_numpy().max(axis=1)


def agreement_accuracy(data: GalaxySet, probs: np.ndarray) -> dict[str, float]:
    """Accuracy on the test galaxies whose top class has decision-tree probability (from the
    volunteers' votes) at least 0.5, 0.8 and 0.9, with how many there are: as Dieleman 2015 reports."""
    test = data.split["test"]
    agreement = vote_agreement(data, "test")
    correct = probs.argmax(axis=1) == data.labels[test]
    metrics: dict[str, float] = {}
    for least in AGREEMENT:
        kept = agreement >= least
        name = f"test_by_agreement/at_least_{least}"
        metrics[f"{name}/n"] = float(kept.sum())
        metrics[f"{name}/accuracy"] = float(correct[kept].mean()) if kept.any() else float("nan")
    return metrics


def dihedral_consistency(view_probs: list[np.ndarray]) -> float:
    """The share of galaxies given the same class in all 8 rotations and reflections."""
    classes = np.stack([probs.argmax(axis=1) for probs in view_probs])
    return float((classes == classes[0]).all(axis=0).mean())
