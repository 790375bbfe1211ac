"""supercon's pyfunc model, kept in formats that do not run code when loaded (no pickle).

The fitted Pipeline is saved as its parts: the StandardScaler's mean and scale and, per regressor,
the linear model's coefficients (JSON), XGBoost's own JSON model, or the dense net as a native
`.keras` file plus its target scaling (JSON). MLflow logs the model "from code" (`served.py`, which
only names this class), so loading it executes physml's source shipped with the model, never
bytes from the artifact store. Loading imports only what the model's kind needs (numpy and pandas;
xgboost's Booster, not its scikit-learn wrapper; Keras), which its requirements (train.py) name.

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
    from sklearn.linear_model import LinearRegression
    from xgboost import XGBRegressor

    scaler, regressor = pipeline.named_steps["scaler"], pipeline.named_steps["regressor"]
    parts = {
        "columns": [str(c) for c in scaler.feature_names_in_],
        "mean": scaler.mean_.tolist(),
        "scale": scaler.scale_.tolist(),
        "interval": interval,
    }
    artifacts = {"parts": str(folder / PARTS)}
    if isinstance(regressor, LinearRegression):
        parts |= {"kind": "linear", "coef": regressor.coef_.tolist(), "intercept": float(regressor.intercept_)}
    elif isinstance(regressor, XGBRegressor):
        parts["kind"] = "xgboost"
        regressor.save_model(folder / "regressor.json")
        artifacts["regressor"] = str(folder / "regressor.json")
    else:  # the dense net: the Keras model and how Tc was scaled for training
        parts |= {"kind": "keras", "y_mean": regressor.y_mean_, "y_scale": regressor.y_scale_}
        regressor.model_.save(folder / "regressor.keras")
        artifacts["regressor"] = str(folder / "regressor.keras")
    (folder / PARTS).write_text(json.dumps(parts))
    return artifacts


class SuperconModel(TaskModel):
    def load_context(self, context) -> None:
        parts = json.loads(Path(context.artifacts["parts"]).read_text())
        self.columns = parts["columns"]
        self.mean, self.scale = np.asarray(parts["mean"]), np.asarray(parts["scale"])
        self.kind = parts["kind"]
        self.interval = parts.get("interval")
        if self.kind == "linear":
            self.coef, self.intercept = np.asarray(parts["coef"]), parts["intercept"]
        elif self.kind == "xgboost":  # the Booster, not XGBRegressor: that wrapper needs scikit-learn
            from xgboost import Booster

            self.booster = Booster(model_file=context.artifacts["regressor"])
            best = self.booster.attr("best_iteration")  # early stopping: the best round, as the wrapper predicts
            self.rounds = (0, int(best) + 1) if best is not None else (0, 0)
        else:
            import keras

            self.net = keras.models.load_model(context.artifacts["regressor"])
            self.y_mean, self.y_scale = parts["y_mean"], parts["y_scale"]

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
        if self.kind == "linear":
            return scaled @ self.coef + self.intercept
        if self.kind == "xgboost":
            return np.asarray(self.booster.inplace_predict(scaled, iteration_range=self.rounds), dtype="float64")
        out = self.net.predict(scaled.astype("float32"), batch_size=4096, verbose=0).reshape(-1)
        return out.astype("float64") * self.y_scale + self.y_mean
