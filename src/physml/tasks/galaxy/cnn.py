"""The seed study's small CNN for Galaxy Zoo images, and the knobs of a stronger recipe.

Conv layers (5x5, 3x3, 3x3 kernels by default), each followed by 2x2 max pooling, then l dense
ReLU layers of n units with dropout, then softmax (classes), or for the 37 vote fractions a sigmoid
each or (`model.tree_output`) the decision tree's own normalisation (tree_output.py).
The input is raw pixels (0-255, float); the net rescales them itself, so a served model takes images.
`model.batch_norm` puts batch normalisation between each convolution and its ReLU;
`model.global_pooling` averages the last feature maps instead of flattening them. Training takes
Adam or AdamW (decoupled weight decay), a constant or cosine-decayed learning rate, focal loss or
cross-entropy, and label smoothing (train.*).
"""

from __future__ import annotations

import keras
import numpy as np
from sklearn.utils.class_weight import compute_class_weight

from physml.models.optimizers import make_optimizer as optimizer_named
from physml.tasks.galaxy.config import CNNParams, GalaxyTraining
from physml.tasks.galaxy.tree_output import DecisionTreeFractions

# Batch norm's moving averages: Keras' default momentum 0.99 suits thousands of steps; at ~30 steps an
# epoch (1,960 galaxies, batch 64) the moving variance still held 2x the batches' after 10 epochs (it
# starts at 1, the first layer's activations vary by ~0.05), and validation predicted the majority class
# until then. 0.9 forgets the start within an epoch.
NORM_MOMENTUM = 0.9


def build_cnn(
    input_size: int,
    n_outputs: int,
    params: CNNParams,
    output_activation: str = "softmax",
    name: str = "galaxy_cnn",
    prefix: str = "",
) -> keras.Model:
    """`prefix` goes before every layer's name: the members of an `averaged` model need their own."""
    inputs = keras.Input(shape=(input_size, input_size, 3), name=f"{prefix}image")
    x = keras.layers.Rescaling(1.0 / 255.0, name=f"{prefix}rescale")(inputs)
    for index, (filters, kernel) in enumerate(zip(params.filters, params.kernel_sizes)):
        conv = f"{prefix}conv{index + 1}"
        if params.batch_norm:  # conv (no bias: the norm has its own shift) -> norm -> ReLU
            x = keras.layers.Conv2D(filters, kernel, padding="same", use_bias=False, name=conv)(x)
            x = keras.layers.BatchNormalization(momentum=NORM_MOMENTUM, name=f"{prefix}norm{index + 1}")(x)
            x = keras.layers.Activation("relu", name=f"{prefix}relu{index + 1}")(x)
        else:
            x = keras.layers.Conv2D(filters, kernel, padding="same", activation="relu", name=conv)(x)
        x = keras.layers.MaxPooling2D(2, name=f"{prefix}pool{index + 1}")(x)
    if params.global_pooling:
        x = keras.layers.GlobalAveragePooling2D(name=f"{prefix}global_pool")(x)
    else:
        x = keras.layers.Flatten(name=f"{prefix}flatten")(x)
    for index in range(params.dense_layers):
        x = keras.layers.Dense(params.dense_units, activation="relu", name=f"{prefix}dense{index + 1}")(x)
        x = keras.layers.Dropout(params.dropout, name=f"{prefix}dropout{index + 1}")(x)
    if output_activation == "tree":  # the 37 vote fractions, consistent with the GZ2 decision tree
        x = keras.layers.Dense(n_outputs, name=f"{prefix}logits")(x)
        outputs = DecisionTreeFractions(name=f"{prefix}output")(x)
    else:
        outputs = keras.layers.Dense(n_outputs, activation=output_activation, name=f"{prefix}output")(x)
    return keras.Model(inputs, outputs, name=name)


def averaged(nets: list[keras.Model]) -> keras.Model:
    """One model whose output is the mean of the nets' outputs (a seed ensemble), saved and served as
    a single .keras file; each net keeps its own name (build_cnn's `name`) inside it."""
    inputs = keras.Input(shape=tuple(nets[0].inputs[0].shape[1:]), name="image")
    outputs = keras.layers.Average(name="mean_output")([net(inputs) for net in nets])
    return keras.Model(inputs, outputs, name="galaxy_cnn_ensemble")


def member_nets(model: keras.Model) -> list[keras.Model]:
    """The nets an `averaged` model holds, or [model] for a single net."""
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return nested or [model]


def conv_layer_names(model: keras.Model) -> list[str]:
    return [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def focal_alpha(labels: np.ndarray, n_classes: int, class_weighted: bool) -> list[float]:
    """Per-class alpha of the focal loss: sklearn's balanced class weights (1 each if unweighted)."""
    if not class_weighted:
        return [1.0] * n_classes
    present = np.unique(labels)
    weights = dict(zip(present, compute_class_weight("balanced", classes=present, y=labels)))
    return [float(weights.get(c, 1.0)) for c in range(n_classes)]


def make_optimizer(training: GalaxyTraining, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """Adam or AdamW at train.learning_rate, constant or cosine-decayed to 0 over the whole schedule."""
    return optimizer_named(
        training.optimizer,
        training.learning_rate,
        training.schedule,
        training.epochs * steps_per_epoch,
        training.weight_decay,
    )


def compile_classifier(model: keras.Model, training: GalaxyTraining, alpha: list[float], steps_per_epoch: int) -> None:
    if training.loss == "focal":
        loss = keras.losses.CategoricalFocalCrossentropy(
            alpha=alpha, gamma=training.focal_gamma, label_smoothing=training.label_smoothing
        )
    else:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=training.label_smoothing)
    model.compile(
        optimizer=make_optimizer(training, steps_per_epoch),
        loss=loss,
        metrics=[
            keras.metrics.CategoricalAccuracy(name="accuracy"),
            keras.metrics.TopKCategoricalAccuracy(2, name="top2"),
        ],
    )


def compile_regressor(model: keras.Model, training: GalaxyTraining, steps_per_epoch: int) -> None:
    model.compile(
        optimizer=make_optimizer(training, steps_per_epoch),
        loss="mse",
        metrics=[keras.metrics.RootMeanSquaredError("rmse")],
    )
