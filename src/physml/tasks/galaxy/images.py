"""The Galaxy Zoo image pipeline on tf.data.

Decode JPEG -> centre crop 212x212 -> resize to 70x70, once, in a parallel map; the 70x70 uint8
images are cached in memory and on disk (keyed by the files and the settings), so later runs skip
decoding. Training batches then take a random 60x60 crop and a random dihedral transform
(rot90 / flip / transpose) with albumentations; evaluation takes the centre 60x60 crop. The decode,
crop and resize are preprocess.py's, which the served model calls too.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import albumentations as A
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from physml.data.paths import cache_base
from physml.tasks.galaxy.preprocess import centre_crop, decode_jpeg, shrink

AUTOTUNE = tf.data.AUTOTUNE


def decode_and_shrink(path: tf.Tensor, crop: int, size: int) -> tf.Tensor:
    return shrink(decode_jpeg(tf.io.read_file(path)), crop, size)


def cache_key(paths: list[Path], crop: int, size: int, hashes: list[str] | None = None) -> str:
    """The decode settings and every image's content (its SHA-256, from the manifest): two images of
    the same name and size but other pixels never share a cache entry."""
    digest = hashlib.sha256(f"decode-v3:{crop}:{size}".encode())  # v3: the accurate DCT (PIL's pixels)
    if hashes is None:
        from physml.tasks.galaxy.manifest import scan

        facts = scan(paths, progress=False)
        hashes = [facts[path].sha256 for path in paths]
    for content in hashes:
        digest.update(content.encode())
    return digest.hexdigest()[:20]


def decoded_images(
    paths: list[Path],
    crop: int = 212,
    size: int = 70,
    cache_dir: Path | None = None,
    progress: bool = True,
    hashes: list[str] | None = None,
) -> np.ndarray:
    """(N, size, size, 3) uint8, decoded in a parallel tf.data map, or read from the disk cache (keyed
    by the images' content hashes, `hashes` when the caller has them)."""
    cache_dir = Path(cache_dir or cache_base() / "galaxy_images")
    cache_file = cache_dir / f"{cache_key(paths, crop, size, hashes)}.npy"
    if cache_file.exists():
        return np.load(cache_file)
    dataset = (
        tf.data.Dataset.from_tensor_slices([str(p) for p in paths])
        .map(lambda p: decode_and_shrink(p, crop, size), num_parallel_calls=AUTOTUNE, deterministic=True)
        .batch(256)
        .prefetch(AUTOTUNE)
    )
    chunks = []
    with tqdm(total=len(paths), desc="decode JPEGs", unit="img", disable=not progress) as bar:
        for batch in dataset:
            chunks.append(batch.numpy())
            bar.update(len(chunks[-1]))
    images = np.concatenate(chunks) if chunks else np.zeros((0, size, size, 3), np.uint8)
    cache_dir.mkdir(parents=True, exist_ok=True)
    temporary = cache_file.with_suffix(".tmp.npy")
    np.save(temporary, images)
    temporary.replace(cache_file)
    return images


def training_augmentation(crop: int, seed: int) -> A.Compose:
    return A.Compose(
        [
            A.RandomCrop(crop, crop),
            A.RandomRotate90(p=1.0),
            A.HorizontalFlip(p=0.5),
            A.VerticalFlip(p=0.5),
            A.Transpose(p=0.5),
        ],
        seed=seed,
    )


def training_dataset(images: np.ndarray, targets: np.ndarray, batch_size: int, crop: int, seed: int) -> tf.data.Dataset:
    """Shuffled, augmented batches of (crop x crop uint8 images, targets), prefetched."""
    augment = training_augmentation(crop, seed)

    def augment_one(image: np.ndarray) -> np.ndarray:
        return augment(image=image)["image"]

    def map_fn(image, target):
        out = tf.numpy_function(augment_one, [image], tf.uint8, stateful=True)
        out.set_shape((crop, crop, 3))
        return out, target

    return (
        tf.data.Dataset.from_tensor_slices((images, targets))
        .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        .map(map_fn, num_parallel_calls=AUTOTUNE)
        .batch(batch_size)
        .prefetch(AUTOTUNE)
    )


def evaluation_dataset(images: np.ndarray, targets: np.ndarray, batch_size: int, crop: int) -> tf.data.Dataset:
    return tf.data.Dataset.from_tensor_slices((centre_crop(images, crop), targets)).batch(batch_size).prefetch(AUTOTUNE)


def dihedral_views(images: np.ndarray) -> list[np.ndarray]:
    """The 8 rotations/reflections of a batch of square images (for test-time augmentation)."""
    views = []
    for flipped in (images, images[:, :, ::-1, :]):
        for k in range(4):
            views.append(np.rot90(flipped, k=k, axes=(1, 2)))
    return views
