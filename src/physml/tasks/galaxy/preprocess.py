"""What a galaxy image goes through before the CNN sees it, in one place: the training pipeline
(images.py) and the served model (model.py) both call these, so a served JPEG gets the evaluation
path's pixels. Light on purpose (NumPy and TensorFlow only): loading the logged model imports it.

A Kaggle JPEG (424x424 RGB) is decoded as PIL decodes it (libjpeg's accurate integer DCT; TensorFlow's
default fast DCT differs by up to 4 levels), centre-cropped to `crop` (212), resized to `size` (70) by
area averaging and rounded to uint8 (what the image cache keeps); evaluation then takes the centre
`input_size` (60) crop as float32. The CNN scales 0-255 to 0-1 itself (its Rescaling layer, cnn.py).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

RAW_SIZE = 424  # Kaggle's JPEGs are 424 x 424 RGB


def decode_jpeg(contents: tf.Tensor) -> tf.Tensor:
    """(H, W, 3) uint8, the same pixels as PIL's `Image.open(path).convert("RGB")`."""
    return tf.io.decode_jpeg(contents, channels=3, dct_method="INTEGER_ACCURATE")


def shrink(images, crop: int, size: int) -> tf.Tensor:
    """Centre crop to crop x crop, area resize to size x size, round to uint8: one (H, W, 3) image or a batch."""
    images = tf.image.resize_with_crop_or_pad(images, crop, crop)
    images = tf.image.resize(images, (size, size), method="area")
    return tf.cast(tf.round(images), tf.uint8)


def dihedral_views(images: np.ndarray) -> list[np.ndarray]:
    """The 8 rotations/reflections of a batch of square images (for test-time augmentation)."""
    views = []
    for flipped in (images, images[:, :, ::-1, :]):
        for k in range(4):
            views.append(np.rot90(flipped, k=k, axes=(1, 2)))
    return views


def net_outputs(net, images: np.ndarray, tta: bool, batch_size: int = 256) -> np.ndarray:
    """The net's outputs on `images` (its input: (N, input, input, 3)); with `tta`, their mean over the
    8 dihedral views (test-time augmentation: a galaxy on the sky has no preferred orientation).
    Evaluation, calibration and the served model all predict through this."""
    views = dihedral_views(images) if tta else [images]
    outputs = [np.asarray(net.predict(np.ascontiguousarray(view), batch_size=batch_size, verbose=0)) for view in views]
    return outputs[0] if len(outputs) == 1 else np.mean(outputs, axis=0, dtype=outputs[0].dtype)


def centre_crop(images: np.ndarray, crop: int) -> np.ndarray:
    offset = (images.shape[1] - crop) // 2
    return images[:, offset : offset + crop, offset : offset + crop, :]
