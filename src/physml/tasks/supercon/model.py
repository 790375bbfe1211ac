"""supercon's pyfunc model, kept in formats that do not run code when loaded (no pickle).

The fitted Pipeline is saved as its parts: the StandardScaler's mean and scale and, per regressor,
the linear model's coefficients (JSON), XGBoost's own JSON model, the dense net as a native
`.keras` file plus its target scaling (JSON), or an ensemble's members, each so, and their blend
weights. MLflow logs the model "from code" (`served.py`, which only names this class), so loading it
executes physml's source shipped with the model, never bytes from the artifact store. Loading
imports only what the model's kind needs (numpy and pandas; xgboost's Booster, not its scikit-learn
wrapper; Keras), which its requirements (train.py) name.

Input: a DataFrame with the feature columns of the signature (`physml supercon predict` makes them
from a formula). Output: a DataFrame, one row per input: `Tc` (predicted, kelvin) and, where the run
calibrated a conformal interval (evaluation/conformal.py), `Tc_low` and `Tc_high`, its bounds
(never below 0 K), and `interval_level`, the coverage they promise (0.9 by default).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from physml.models.pyfunc import TaskModel

PARTS = "parts.json"


def save_parts(pipeline, folder: Path, interval: dict | None = None) -> dict[str, str]:
    """The fitted scaler + regressor (and the calibrated conformal interval, if any) as files in
    `folder`; returns MLflow's `artifacts` mapping."""
    scaler, regressor = pipeline.named_steps["scaler"], pipeline.named_steps["regressor"]
    parts = {
        "columns": [str(c) for c in scaler.feature_names_in_],
        "mean": scaler.mean_.tolist(),
        "scale": scaler.scale_.tolist(),
        "interval": interval,
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
    from sklearn.linear_model import LinearRegression
    from xgboost import XGBRegressor

    if isinstance(regressor, LinearRegression):
        return {"kind": "linear", "coef": regressor.coef_.tolist(), "intercept": float(regressor.intercept_)}, {}
    if isinstance(regressor, XGBRegressor):
        regressor.save_model(folder / f"{stem}.json")
        return {"kind": "xgboost"}, {stem: str(folder / f"{stem}.json")}
    from physml.tasks.composition.crossfit import CrossFitted

    if isinstance(regressor, CrossFitted):  # the members' mean: an ensemble with equal weights
        named = [(f"fold{index + 1}", member) for index, member in enumerate(regressor.members_)]
        blend = {"weights": [1.0 / len(named)] * len(named), "intercept": 0.0}
        return save_members(named, blend, folder, stem)
    if isinstance(regressor, StackingRegressor):
        from physml.tasks.composition.out_of_fold import members_of

        final = regressor.final_estimator_
        blend = {"weights": final.coef_.tolist(), "intercept": float(final.intercept_)}
        return save_members(members_of(regressor), blend, folder, stem)
    # the dense net: the Keras model and how Tc was scaled for training
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
    """XGBoost's Booster, not XGBRegressor: that wrapper needs scikit-learn."""

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


class SavedNet:
    """The dense net and how Tc was scaled for training."""

    def __init__(self, parts: dict, artifacts: dict[str, str], stem: str):
        import keras

        self.net = keras.models.load_model(artifacts[stem])
        self.y_mean, self.y_scale = parts["y_mean"], parts["y_scale"]

    def predict(self, scaled: np.ndarray) -> np.ndarray:
        out = self.net.predict(scaled.astype("float32"), batch_size=4096, verbose=0).reshape(-1)
        return out.astype("float64") * self.y_scale + self.y_mean


# a saved regressor's kind -> what loads it: `predict(scaled features) -> Tc` (K), importing only what
# that kind needs
LOADERS = {"linear": SavedLinear, "xgboost": SavedBooster, "ensemble": SavedBlend, "keras": SavedNet}


def load_regressor(parts: dict, artifacts: dict[str, str], stem: str = "regressor"):
    return LOADERS[parts["kind"]](parts, artifacts, stem)


class SuperconModel(TaskModel):
    def load_context(self, context) -> None:
        parts = json.loads(Path(context.artifacts["parts"]).read_text())
        self.columns = parts["columns"]
        self.mean, self.scale = np.asarray(parts["mean"]), np.asarray(parts["scale"])
        self.interval = parts.get("interval")
        self.regressor = load_regressor(parts, context.artifacts)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        tc = self.predict_tc(model_input)
        out = pd.DataFrame({"Tc": tc})
        if self.interval:
            from physml.evaluation.conformal import ConformalInterval

            interval = ConformalInterval(**self.interval)
            out["Tc_low"], out["Tc_high"] = interval.bounds(tc)
            out["interval_level"] = interval.level
        return out

    def predict_tc(self, model_input: pd.DataFrame) -> np.ndarray:
        scaled = (np.asarray(model_input[self.columns], dtype="float64") - self.mean) / self.scale
        return self.regressor.predict(scaled)
