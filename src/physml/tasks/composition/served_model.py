"""The composition kind's pyfunc model, kept in formats that do not run code when loaded (no pickle).

The fitted Pipeline is saved as its parts: the StandardScaler's mean and scale and, per regressor,
the linear model's coefficients (JSON), XGBoost's own JSON model, the dense net as a native
`.keras` file plus its target scaling (JSON), or an ensemble's members, each so, and their blend
weights. MLflow logs the model "from code" (`served.py`, which only names this class), so loading it
executes physml's source shipped with the model, never bytes from the artifact store. Loading
imports only what the model's kind needs (numpy and pandas; xgboost's Booster, not its scikit-learn
wrapper; Keras), which its requirements (train.py) name.

Input: a DataFrame with either the feature columns of the signature (a task
that gives its own features: its predict command makes them from a formula) or one column of raw formulas (a YAML task's model: it featurises
them itself, with the completed element table). Output: a DataFrame, one row per input, its columns
named after the task's target (`parts.json`'s `output`, e.g. `Tc`). A regressor gives the prediction
and, where the run calibrated a conformal interval (evaluation/conformal.py), `<output>_low` and
`<output>_high` (never below 0) and `interval_level`, the coverage they promise. A classifier gives
`<output>_probability` (calibrated on the calibration part) and `<output>`, the label its threshold
(chosen on the training rows) gives.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from physml.models.pyfunc import TaskModel

PARTS = "parts.json"


def save_parts(pipeline, folder: Path, served: dict) -> dict[str, str]:
    """The fitted scaler + regressor as files in `folder`, with `served`: how the model reads its input
    and names its output (`output`, `formula_column` or None, and the `interval` or the classifier's
    `calibration` and `threshold`); returns MLflow's `artifacts` mapping."""
    scaler, regressor = pipeline.steps[0][1], pipeline.steps[1][1]  # a regressor or a classifier
    parts = {
        "columns": [str(c) for c in scaler.feature_names_in_],
        "mean": scaler.mean_.tolist(),
        "scale": scaler.scale_.tolist(),
        **served,
    }
    artifacts = {"parts": str(folder / PARTS)}
    regressor_parts, files = save_regressor(regressor, folder, "regressor")
    (folder / PARTS).write_text(json.dumps(parts | regressor_parts))
    return artifacts | files


def save_regressor(regressor, folder: Path, stem: str) -> tuple[dict, dict[str, str]]:
    """One fitted regressor as (its parts, the files they name as MLflow artifacts, keyed `stem`):
    linear coefficients, XGBoost's JSON model, the dense net's .keras file, or an ensemble's members
    (each under `stem`_name) and their blend."""
    from sklearn.ensemble import StackingRegressor
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from xgboost import XGBModel

    if isinstance(regressor, (LinearRegression, LogisticRegression)):  # a logistic model's log-odds
        coef, intercept = np.ravel(regressor.coef_), float(np.ravel(regressor.intercept_)[0])
        return {"kind": "linear", "coef": coef.tolist(), "intercept": intercept}, {}
    if isinstance(regressor, XGBModel):  # a classifier's booster predicts its probability
        regressor.save_model(folder / f"{stem}.json")
        return {"kind": "xgboost"}, {stem: str(folder / f"{stem}.json")}
    from physml.tasks.composition.crossfit import CrossFitted

    if isinstance(regressor, CrossFitted):  # the members' mean: an ensemble with equal weights
        named = [(f"fold{index + 1}", member) for index, member in enumerate(regressor.members_)]
        blend = {"weights": [1.0 / len(named)] * len(named), "intercept": 0.0}
        return save_members(named, blend, folder, stem)
    from physml.tasks.composition.hurdle import ZeroHurdle

    if isinstance(regressor, ZeroHurdle):  # two boosters: zero or not, and how much
        named = [("nonzero", regressor.classifier), ("amount", regressor.regressor)]
        members = save_members(named, {"weights": [], "intercept": 0.0}, folder, stem)
        extra = {"kind": "hurdle", "nonzero_threshold": regressor.threshold, "lower": regressor.lower_}
        return members[0] | extra, members[1]
    if isinstance(regressor, StackingRegressor):
        from physml.tasks.composition.out_of_fold import members_of

        final = regressor.final_estimator_
        blend = {"weights": final.coef_.tolist(), "intercept": float(final.intercept_)}
        return save_members(members_of(regressor), blend, folder, stem)
    # the dense net: the Keras model and how the target was scaled for training
    regressor.model_.save(folder / f"{stem}.keras")
    return {"kind": "keras", "y_mean": regressor.y_mean_, "y_scale": regressor.y_scale_}, {
        stem: str(folder / f"{stem}.keras")
    }


def save_members(named: list[tuple[str, object]], blend: dict, folder: Path, stem: str) -> tuple[dict, dict[str, str]]:
    """An ensemble's fitted (name, member) pairs, each under `stem`_name, and the weights that blend them."""
    members, files = [], {}
    for name, member in named:
        member_parts, member_files = save_regressor(member, folder, f"{stem}_{name}")
        members.append({"name": name, "stem": f"{stem}_{name}", **member_parts})
        files |= member_files
    return {"kind": "ensemble", "members": members, **blend}, files


class SavedLinear:
    def __init__(self, parts: dict, artifacts: dict[str, str], stem: str):
        self.coef, self.intercept = np.asarray(parts["coef"]), parts["intercept"]

    def predict(self, scaled: np.ndarray) -> np.ndarray:
        return scaled @ self.coef + self.intercept


class SavedBooster:
    """XGBoost's Booster, not its scikit-learn wrapper: that needs scikit-learn. A classifier's booster
    (binary:logistic) predicts the probability."""

    def __init__(self, parts: dict, artifacts: dict[str, str], stem: str):
        from xgboost import Booster

        self.booster = Booster(model_file=artifacts[stem])
        best = self.booster.attr("best_iteration")  # early stopping: the best round, as the wrapper predicts
        self.rounds = (0, int(best) + 1) if best is not None else (0, 0)

    def predict(self, scaled: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.inplace_predict(scaled, iteration_range=self.rounds), dtype="float64")


class SavedBlend:
    """An ensemble's (or a cross-fitted model's) members and the weights that blend them."""

    def __init__(self, parts: dict, artifacts: dict[str, str], stem: str):
        self.members = [load_regressor(member, artifacts, member["stem"]) for member in parts["members"]]
        self.weights, self.intercept = np.asarray(parts["weights"]), parts["intercept"]

    def predict(self, scaled: np.ndarray) -> np.ndarray:
        return np.column_stack([member.predict(scaled) for member in self.members]) @ self.weights + self.intercept


class SavedHurdle:
    """Zero where the classifier's probability of non-zero is at most the threshold, else the amount."""

    def __init__(self, parts: dict, artifacts: dict[str, str], stem: str):
        nonzero, amount = (load_regressor(member, artifacts, member["stem"]) for member in parts["members"])
        self.nonzero, self.amount = nonzero, amount
        self.threshold, self.lower = parts["nonzero_threshold"], parts["lower"]

    def predict(self, scaled: np.ndarray) -> np.ndarray:
        amount = np.maximum(self.amount.predict(scaled), self.lower)
        return np.where(self.nonzero.predict(scaled) > self.threshold, amount, 0.0)


class SavedNet:
    """The dense net and how the target was scaled for training."""

    def __init__(self, parts: dict, artifacts: dict[str, str], stem: str):
        import keras

        self.net = keras.models.load_model(artifacts[stem])
        self.y_mean, self.y_scale = parts["y_mean"], parts["y_scale"]

    def predict(self, scaled: np.ndarray) -> np.ndarray:
        out = self.net.predict(scaled.astype("float32"), batch_size=4096, verbose=0).reshape(-1)
        return out.astype("float64") * self.y_scale + self.y_mean


# a saved regressor's kind -> what loads it: `predict(scaled features) -> the target`, importing only what
# that kind needs
LOADERS = {
    "linear": SavedLinear,
    "xgboost": SavedBooster,
    "ensemble": SavedBlend,
    "hurdle": SavedHurdle,
    "keras": SavedNet,
}


def load_regressor(parts: dict, artifacts: dict[str, str], stem: str = "regressor"):
    return LOADERS[parts["kind"]](parts, artifacts, stem)


class CompositionModel(TaskModel):
    def load_context(self, context) -> None:
        parts = json.loads(Path(context.artifacts["parts"]).read_text())
        self.columns = parts["columns"]
        self.mean, self.scale = np.asarray(parts["mean"]), np.asarray(parts["scale"])
        self.output = parts.get("output", "Tc")  # models logged before the kind named their output
        self.formula_column = parts.get("formula_column")
        self.interval = parts.get("interval")
        self.calibration, self.threshold = parts.get("calibration"), parts.get("threshold")
        self.regressor = load_regressor(parts, context.artifacts)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        scaled = self.scaled(model_input)
        raw = self.predict_raw(scaled)
        if self.threshold is not None:  # a classifier
            probability = np.interp(raw, *self.calibration) if self.calibration else raw
            label = (probability > self.threshold).astype("int64")
            return pd.DataFrame({f"{self.output}_probability": probability, self.output: label})
        out = pd.DataFrame({self.output: raw})
        if self.interval:
            from physml.evaluation.stratified_conformal import interval_from_dict

            interval = interval_from_dict(self.interval)
            # a stratified interval's width follows the hurdle's probability of non-zero
            by = self.regressor.nonzero.predict(scaled) if isinstance(self.regressor, SavedHurdle) else None
            out[f"{self.output}_low"], out[f"{self.output}_high"] = interval.bounds(raw, by)
            out["interval_level"] = interval.level
        return out

    def scaled(self, model_input: pd.DataFrame) -> np.ndarray:
        """The standard-scaled feature matrix: of the features given, or made from the formulas given."""
        if self.formula_column:
            from physml.tasks.composition.elements import completed_table
            from physml.tasks.composition.formula import featurise_formulas, needs_descriptors

            formulas = model_input[self.formula_column].astype(str)
            model_input = featurise_formulas(formulas, completed_table(), needs_descriptors(self.columns))
        return (np.asarray(model_input[self.columns], dtype="float64") - self.mean) / self.scale

    def predict_raw(self, scaled: np.ndarray) -> np.ndarray:
        """The regressor's prediction, or the classifier's uncalibrated probability."""
        raw = self.regressor.predict(scaled)
        return 1.0 / (1.0 + np.exp(-raw)) if self.threshold is not None and self.linear else raw

    @property
    def linear(self) -> bool:
        return isinstance(self.regressor, SavedLinear)
