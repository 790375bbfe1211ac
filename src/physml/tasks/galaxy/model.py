"""galaxy's pyfunc model: the trained CNN (kept as a native .keras file) behind MLflow's pyfunc interface.

Input: (N, 424, 424, 3) uint8, the pixels of Kaggle JPEGs as they come (as PIL decodes them); the
model centre-crops 212, resizes to 70 and takes the centre 60 itself, with the functions the training
pipeline uses (preprocess.py), and the CNN scales 0-255 itself. (N, 60, 60, 3) uint8 images, already
cropped as in evaluation, are taken as they are; any other shape is refused, naming the two it takes.
Output: class probabilities, calibrated as on the calibration part (matrix or temperature scaling,
the `calibration` artifact; see uncertainty.py), or the 37 vote fractions for the regression target.
"""

from __future__ import annotations

import json

import numpy as np
from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException

from physml.models.pyfunc import TaskModel
from physml.tasks.galaxy.preprocess import centre_crop, net_outputs, shrink

BATCH = 256
# the settings the net was trained with (GalaxyData), logged beside it as the `preprocessing` artifact
PREPROCESSING = ("raw_size", "crop", "size", "input_size")


def network_input(images: np.ndarray, preprocessing: dict[str, int]) -> np.ndarray:
    """Raw (N, raw, raw, 3) or cropped (N, input, input, 3) pixels -> the CNN's float32 input, as in evaluation."""
    raw, crop, size, small = (preprocessing[key] for key in PREPROCESSING)
    images = np.asarray(images)
    shape = tuple(images.shape)
    if shape[1:] == (small, small, 3):
        return images.astype("float32")
    if shape[1:] != (raw, raw, 3):
        raise MlflowException(
            f"the galaxy model takes (N, {raw}, {raw}, 3) uint8 pixels of Kaggle JPEGs (or (N, {small}, {small}, 3) "
            f"already centre-cropped); got shape {shape}",
            error_code=INVALID_PARAMETER_VALUE,
        )
    shrunk = [shrink(images[start : start + BATCH], crop, size).numpy() for start in range(0, len(images), BATCH)]
    return centre_crop(np.concatenate(shrunk or [np.zeros((0, size, size, 3), np.uint8)]), small).astype("float32")


class GalaxyModel(TaskModel):
    def load_context(self, context) -> None:
        import keras

        import physml.tasks.galaxy.tree_output  # noqa: F401  (registers the tree's output layer with Keras)

        self.net = keras.models.load_model(context.artifacts["keras_model"])
        with open(context.artifacts["preprocessing"]) as file:
            self.preprocessing = json.load(file)
        self.calibration = None
        if "calibration" in context.artifacts:  # models logged before calibration have none
            with open(context.artifacts["calibration"]) as file:
                settings = json.load(file)
            if settings.get("method", "none") != "none":
                from physml.evaluation.calibration import Calibration

                self.calibration = Calibration(**settings)

    def predict(self, context, model_input: np.ndarray, params=None) -> np.ndarray:
        images = network_input(model_input, self.preprocessing)
        outputs = net_outputs(self.net, images, self.preprocessing.get("tta", False), BATCH)
        return outputs if self.calibration is None else self.calibration.apply(outputs).astype(outputs.dtype)
