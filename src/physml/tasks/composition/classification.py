"""The composition kind's binary classification run (a YAML task with `kind: classification`).

The classifier fits on the training part (XGBoost early-stops on the validation part); its
probabilities are calibrated by isotonic regression on the calibration part, and the label is
`probability > threshold` with the threshold the training part's share of positives: for calibrated
probabilities that is the rule that maximises expected balanced accuracy (each class weighted by the
inverse of its frequency), so it is chosen on training rows alone. The test part only scores:
balanced accuracy of the labels (what Matbench's leaderboard entries, which submitted labels, call
ROC-AUC), ROC-AUC of the probabilities, F1, accuracy, log loss and the calibration error.
"""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import balanced_accuracy_score, f1_score, log_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from physml.evaluation.calibration import expected_calibration_error
from physml.run_result import RunEvidence, RunResult
from physml.tasks.composition.models import CLASSIFIERS as CLASSIFIERS
from physml.tasks.composition.regression import fit_timed, log_model, log_shap
from physml.tasks.composition.split import SplitData
from physml.tasks.composition.target import Target
from physml.tracking.runs import log_figure


def build_classifier(config, model: str):
    if model == "linear":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(max_iter=2000)
    from physml.tasks.composition.boosting import make_gbm_classifier
    from physml.tasks.composition.crossfit import CrossFitted

    classifier = make_gbm_classifier(config.gbm, config.seed)
    return CrossFitted(classifier, config.gbm.folds, config.seed) if config.gbm.folds >= 2 else classifier


class Calibrated:
    """The classifier's probability of class 1, mapped by isotonic regression fitted on the calibration
    part (`evaluation.calibrate_probabilities`; off, the classifier's own probability)."""

    def __init__(self, pipeline: Pipeline, split: SplitData, calibrate: bool = True):
        self.pipeline, self.isotonic = pipeline, None
        if calibrate:
            self.isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            self.isotonic.fit(self.raw(split.X_cal), split.y_cal.to_numpy())
        self.threshold = float(split.y_train.mean())
        # a cross-fitted classifier scores its validation part out of fold (crossfit.py)
        self.validation_raw = getattr(pipeline.steps[1][1], "validation_oof_", None)

    def raw(self, X: pd.DataFrame) -> np.ndarray:
        return self.pipeline.predict_proba(X)[:, 1]

    def mapped(self, raw: np.ndarray) -> np.ndarray:
        return self.isotonic.predict(raw) if self.isotonic is not None else raw

    def probability(self, X: pd.DataFrame) -> np.ndarray:
        return self.mapped(self.raw(X))

    def of_part(self, split: SplitData, name: str) -> np.ndarray:
        """The probability on a part (train, val, cal, test): the validation part's out of fold where it can be."""
        if name == "val" and self.validation_raw is not None:
            return self.mapped(self.validation_raw)
        return self.probability(getattr(split, f"X_{name}"))

    def as_dict(self) -> dict:
        """What the served model needs: the isotonic map as (x, y) knots for np.interp, the threshold."""
        if self.isotonic is None:
            return {"calibration": None, "threshold": self.threshold}
        knots = [self.isotonic.X_thresholds_.tolist(), self.isotonic.y_thresholds_.tolist()]
        return {"calibration": knots, "threshold": self.threshold}


def scores(y_true, probability: np.ndarray, threshold: float, prefix: str) -> dict[str, float]:
    y_true = np.asarray(y_true)
    label = (probability > threshold).astype(int)
    two = np.column_stack([1 - probability, probability])
    values = {
        "balanced_accuracy": balanced_accuracy_score(y_true, label),
        "accuracy": float((label == y_true).mean()),
        "f1": f1_score(y_true, label, zero_division=0),
        "log_loss": log_loss(y_true, np.clip(two, 1e-6, 1 - 1e-6), labels=[0, 1]),
        "ece": expected_calibration_error(two, y_true),
    }
    if len(np.unique(y_true)) == 2:
        values["roc_auc"] = roc_auc_score(y_true, probability)
    return {f"{prefix}{key}": float(value) for key, value in values.items()}


def log_figures(model: str, y_test, probability: np.ndarray, threshold: float, target: Target) -> None:
    """The confusion matrix, ROC curve and reliability diagram of the test part (scikit-learn's displays)."""
    import matplotlib.pyplot as plt
    from sklearn.calibration import CalibrationDisplay
    from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay

    label = (probability > threshold).astype(int)
    displays = {
        "confusion_matrix": lambda ax: ConfusionMatrixDisplay.from_predictions(y_test, label, ax=ax, colorbar=False),
        "roc_curve": lambda ax: RocCurveDisplay.from_predictions(y_test, probability, ax=ax, name=model),
        "reliability": lambda ax: CalibrationDisplay.from_predictions(
            y_test, probability, n_bins=10, ax=ax, name=model
        ),
    }
    for name, draw in displays.items():
        figure, ax = plt.subplots(figsize=(5, 4.5))
        draw(ax)
        ax.set_title(f"{model}: {target.label}, test part ({name.replace('_', ' ')})")
        log_figure(figure, f"plots/{name}.png")


def declared_evidence(calibrated: Calibrated, split: SplitData, config) -> RunEvidence:
    """The run's parts, with the calibrated probabilities and the labels they give, for the platform's
    evidence (tracking/evidence.py)."""
    parts = {}
    for name in ("train", "val", "cal", "test"):
        probability = calibrated.of_part(split, name)
        part = split.evidence_part(name, (probability > calibrated.threshold).astype("int64"))
        part.y = part.y.astype("int64")
        part.probabilities = np.column_stack([1 - probability, probability])
        parts[name] = part
    resamples = config.evaluation.bootstrap_resamples
    return RunEvidence(
        "classification", split.name, split.policy == "grouped", parts, seed=config.seed, resamples=resamples
    )


def fit_and_log(config, model: str, split: SplitData, target: Target, on_epoch_end=None, checkpoints=None) -> RunResult:
    """Train, calibrate and evaluate one classifier inside the active MLflow run; log metrics, plots,
    SHAP and the model (its calibration and threshold with it)."""
    result = RunResult(model=model, run_id=mlflow.active_run().info.run_id)
    pipeline = Pipeline([("scaler", StandardScaler()), ("classifier", build_classifier(config, model))])
    fit_timed(config, model, pipeline, split, on_epoch_end, checkpoints)
    calibrated = Calibrated(pipeline, split, config.evaluation.calibrate_probabilities)
    probability = calibrated.probability(split.X_test)
    metrics = scores(split.y_test, probability, calibrated.threshold, "test_")
    metrics |= scores(split.y_val, calibrated.of_part(split, "val"), calibrated.threshold, "val_")
    metrics |= scores(split.y_train, calibrated.probability(split.X_train), calibrated.threshold, "train_")
    metrics["threshold"] = calibrated.threshold
    mlflow.log_metrics(metrics)
    result.metrics = metrics
    label = (probability > calibrated.threshold).astype("int64")
    result.predictions = pd.DataFrame({"prediction": label, "probability": probability})
    predictions = pd.DataFrame({f"true_{target.label}": split.y_test, f"probability_{target.label}": probability})
    mlflow.log_table(predictions, "predictions/test_predictions.json")
    result.evidence = declared_evidence(calibrated, split, config)
    if config.evaluation.plots:
        log_figures(model, split.y_test, probability, calibrated.threshold, target)
    if config.evaluation.explain:
        log_shap(model, pipeline.steps[1][1], pipeline.steps[0][1], split, config)
    if config.registry.log_model:
        log_model(model, pipeline, split, config, result, calibrated.as_dict(), target)
    return result
