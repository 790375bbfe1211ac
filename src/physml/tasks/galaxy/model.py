"""galaxy's pyfunc model: the trained CNN (kept as a native .keras file) behind MLflow's pyfunc interface.

Input: (N, size, size, 3) float32 pixels 0-255, centre-cropped as in evaluation. Output: class
probabilities (or the 37 vote fractions for the regression target). The preprocessing from a raw
Kaggle JPEG and calibration belong here, so the served model does them too.
"""

from __future__ import annotations

import numpy as np

from physml.models.pyfunc import TaskModel


class GalaxyModel(TaskModel):
    def load_context(self, context) -> None:
        import keras

        self.net = keras.models.load_model(context.artifacts["keras_model"])

    def predict(self, context, model_input: np.ndarray, params=None) -> np.ndarray:
        images = np.asarray(model_input, dtype="float32")
        return np.asarray(self.net.predict(images, batch_size=256, verbose=0))
