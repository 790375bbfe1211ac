"""What a CNN looks at: first-layer activation maps, filters by gradient ascent, contact sheets."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure


def activation_maps(
    model: keras.Model, layer_name: str, images: np.ndarray, titles: list[str], n_maps: int = 8
) -> Figure:
    """One row per image: the input, then the first `n_maps` feature maps of `layer_name`."""
    extractor = keras.Model(model.input, model.get_layer(layer_name).output)
    maps = np.asarray(extractor(images.astype("float32"), training=False))
    n_maps = min(n_maps, maps.shape[-1])
    fig, axes = plt.subplots(
        len(images), n_maps + 1, figsize=(1.4 * (n_maps + 1), 1.5 * len(images)), squeeze=False, layout="constrained"
    )
    for row, (image, title) in enumerate(zip(images, titles)):
        axes[row, 0].imshow(image.astype("uint8"))
        axes[row, 0].set_title(title, fontsize=7)
        for k in range(n_maps):
            axes[row, k + 1].imshow(maps[row, :, :, k], cmap="magma")
            if row == 0:
                axes[row, k + 1].set_title(f"map {k}", fontsize=7)
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle(f"activation maps of {layer_name}")
    return fig


def filter_patterns(
    model: keras.Model,
    layer_name: str,
    n_filters: int,
    steps: int,
    start: np.ndarray,
    step_size: float = 4.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs that maximise each filter's mean activation, by gradient ascent from `start` (an image,
    e.g. the mean input image, plus noise; grey noise alone leaves deep ReLU filters silent).

    Returns (patterns as uint8, whether each filter responded at all).
    """
    extractor = keras.Model(model.input, model.get_layer(layer_name).output)
    n_filters = min(n_filters, extractor.output.shape[-1])
    rng = np.random.default_rng(seed)
    begin = start[None].astype("float32") + 10.0 * rng.standard_normal((n_filters, *start.shape))
    images = tf.Variable(np.clip(begin, 0, 255).astype("float32"))
    responded = np.zeros(n_filters, dtype=bool)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            activations = extractor(images, training=False)
            # filter k's mean activation on image k: each image is pushed towards one filter
            score = tf.reduce_sum(tf.linalg.diag_part(tf.reduce_mean(activations, axis=(1, 2))[:, :n_filters]))
        gradient = tape.gradient(score, images)
        scale = tf.math.reduce_std(gradient, axis=(1, 2, 3), keepdims=True)
        responded |= scale.numpy().ravel() > 0
        images.assign(tf.clip_by_value(images + step_size * gradient / (scale + 1e-8), 0.0, 255.0))
    patterns = images.numpy()
    patterns -= patterns.mean(axis=(1, 2, 3), keepdims=True)
    patterns /= patterns.std(axis=(1, 2, 3), keepdims=True) + 1e-8
    return np.clip(128 + 48 * patterns, 0, 255).astype("uint8"), responded


def image_grid(images: np.ndarray, titles: list[str], columns: int, suptitle: str, cell: float = 1.6) -> Figure:
    rows = int(np.ceil(len(images) / columns))
    fig, axes = plt.subplots(
        rows, columns, figsize=(cell * columns, cell * rows + 0.4), squeeze=False, layout="constrained"
    )
    for ax in axes.ravel():
        ax.axis("off")
    for ax, image, title in zip(axes.ravel(), images, titles):
        ax.imshow(image)
        ax.set_title(title, fontsize=6.5)
    fig.suptitle(suptitle)
    return fig
