"""The seed study's small CNN for Galaxy Zoo images.

Conv layers (5x5, 3x3, 3x3 kernels by default), each followed by 2x2 max pooling, then l dense
ReLU layers of n units with dropout, then softmax (classes) or sigmoid (37 vote fractions).
The input is raw pixels (0-255, float); the net rescales them itself, so a served model takes images.
"""

from __future__ import annotations

import keras
import numpy as np
from sklearn.utils.class_weight import compute_class_weight

from physml.tasks.galaxy.config import CNNParams


def build_cnn(input_size: int, n_outputs: int, params: CNNParams, output_activation: str = "softmax") -> keras.Model:
    inputs = keras.Input(shape=(input_size, input_size, 3), name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    for index, (filters, kernel) in enumerate(zip(params.filters, params.kernel_sizes)):
        x = keras.layers.Conv2D(filters, kernel, padding="same", activation="relu", name=f"conv{index + 1}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{index + 1}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for index in range(params.dense_layers):
        x = keras.layers.Dense(params.dense_units, activation="relu", name=f"dense{index + 1}")(x)
        x = keras.layers.Dropout(params.dropout, name=f"dropout{index + 1}")(x)
    outputs = keras.layers.Dense(n_outputs, activation=output_activation, name="output")(x)
    return keras.Model(inputs, outputs, name="galaxy_cnn")


def conv_layer_names(model: keras.Model) -> list[str]:
    return [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def focal_alpha(labels: np.ndarray, n_classes: int, class_weighted: bool) -> list[float]:
    """Per-class alpha of the focal loss: sklearn's balanced class weights (1 each if unweighted)."""
    if not class_weighted:
        return [1.0] * n_classes
    present = np.unique(labels)
    weights = dict(zip(present, compute_class_weight("balanced", classes=present, y=labels)))
    return [float(weights.get(c, 1.0)) for c in range(n_classes)]


def compile_classifier(model: keras.Model, learning_rate: float, alpha: list[float], gamma: float) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.CategoricalFocalCrossentropy(alpha=alpha, gamma=gamma),
        metrics=[
            keras.metrics.CategoricalAccuracy(name="accuracy"),
            keras.metrics.TopKCategoricalAccuracy(2, name="top2"),
        ],
    )


def compile_regressor(model: keras.Model, learning_rate: float) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate), loss="mse", metrics=[keras.metrics.RootMeanSquaredError("rmse")]
    )
