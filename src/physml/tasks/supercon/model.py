"""supercon's pyfunc model: the fitted scaler + regressor Pipeline behind MLflow's pyfunc interface.

Input: a DataFrame with the feature columns of the signature (`physml supercon predict` makes them
from a formula). Output: predicted Tc in kelvin, one per row. Calibration and prediction intervals
belong here, so the served model returns them too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from physml.models.pyfunc import TaskModel


class SuperconModel(TaskModel):
    def __init__(self, pipeline):
        self.pipeline = pipeline  # scaler + regressor, fitted on the training part only

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:
        return np.asarray(self.pipeline.predict(model_input), dtype="float64")
