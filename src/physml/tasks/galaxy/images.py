"""The Galaxy Zoo image pipeline on tf.data.

Decode JPEG -> centre crop 212x212 -> resize to 70x70, once, in a parallel map; the 70x70 uint8
images are cached on disk (a .npy keyed by the settings and every image's content hash), so later
runs and every tuning trial on the node read them instead of decoding. Evaluation takes the centre
60x60 crop. The decode, crop and resize are preprocess.py's, which the served model calls too.

Training batches (`training_dataset`) are made in the graph, with no Python per image:
- the order is a shuffle of row *indices* (`Dataset.range(n)`, reshuffled every epoch), batched;
  the images are gathered from one tensor that shares the NumPy array's memory (DLPack, no copy;
  tf.data's default graph rewrites, which would serialise, i.e. copy, a captured tensor, are off);
- each image gets a random 60x60 crop of its 70x70 (offsets uniform over 0..10, as albumentations'
  RandomCrop) and one of the 8 dihedral views (rot90 / flips / transpose), uniformly: three fair
  bits (transpose, flip rows, flip columns) compose to the 8 elements of D4, the same distribution
  as RandomRotate90 + HorizontalFlip + VerticalFlip + Transpose at p=0.5. Crop and view are one
  index map (a table per view plus the crop's corner), so a batch is one `tf.gather` of its pixels;
- the random draws are stateless, seeded per batch by a `Dataset.random` stream derived from the
  run's seed (re-drawn every epoch), so the same seed gives the same batches, at any parallelism
  (tf.data combines op seeds with TensorFlow's global seed, which training sets from the same seed).
This runs in C++ threads (no GIL), so parallel calls scale with idle cores; it costs about 1/100 of the
CNN's CPU time per image (benchmarks/galaxy_pipeline.py).

albumentations stays for what TensorFlow has no op for: `albumentations_map` applies any
albumentations transform (A.Affine with arbitrary angles and shear, ElasticTransform, GaussNoise, ...)
to the in-graph batches through `tf.numpy_function`, seeded per batch; `stronger_augmentation` is
such a recipe, `training_dataset(..., extra=...)` the option. That part runs in Python under the GIL
(one call at a time), so it costs what the old per-image pipeline cost: use it when a recipe needs it.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from physml.data.paths import cache_base
from physml.resources import usable_cpus
from physml.tasks.galaxy.preprocess import centre_crop, decode_jpeg, dihedral_views, shrink

if TYPE_CHECKING:
    import albumentations as A

AUTOTUNE = tf.data.AUTOTUNE
ALIGNMENT = 64  # bytes: TensorFlow shares (does not copy) a buffer aligned like its own allocations
DIHEDRAL_VIEWS = 8
PREFETCH_BATCHES = 2  # training batches made ahead of the model (autotuning is off: pipeline_options)

__all__ = [
    "albumentations_map",
    "cache_key",
    "centre_crop",
    "decode_and_shrink",
    "decoded_images",
    "dihedral_views",
    "evaluation_dataset",
    "stronger_augmentation",
    "training_dataset",
]


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


def aligned_empty(shape: tuple[int, ...], dtype=np.uint8) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts on an ALIGNMENT-byte boundary."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + ALIGNMENT, np.uint8)
    start = (-raw.ctypes.data) % ALIGNMENT
    return raw[start : start + nbytes].view(dtype).reshape(shape)


def load_aligned(path: Path) -> np.ndarray:
    """np.load into an aligned array (one allocation, the file read straight into it)."""
    with open(path, "rb") as file:
        version = np.lib.format.read_magic(file)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = reader(file)
        if fortran_order or dtype.hasobject:
            return np.load(path)
        array = aligned_empty(shape, dtype)
        view = memoryview(array.reshape(-1).view(np.uint8))
        done = 0
        while done < len(view):
            read = file.readinto(view[done:])
            if not read:
                raise OSError(f"{path} is truncated: {done} of {len(view)} bytes of pixels")
            done += read
    return array


def decoded_images(
    paths: list[Path],
    crop: int = 212,
    size: int = 70,
    cache_dir: Path | None = None,
    progress: bool = True,
    hashes: list[str] | None = None,
) -> np.ndarray:
    """(N, size, size, 3) uint8, decoded in a parallel tf.data map, or read from the disk cache (keyed
    by the images' content hashes, `hashes` when the caller has them). Either way the pixels are
    written into one preallocated, 64-byte-aligned array (so `training_dataset` shares it)."""
    cache_dir = Path(cache_dir or cache_base() / "galaxy_images")
    cache_file = cache_dir / f"{cache_key(paths, crop, size, hashes)}.npy"
    if cache_file.exists():
        return load_aligned(cache_file)
    dataset = (
        tf.data.Dataset.from_tensor_slices([str(p) for p in paths])
        .map(lambda p: decode_and_shrink(p, crop, size), num_parallel_calls=AUTOTUNE, deterministic=True)
        .batch(256)
        .prefetch(AUTOTUNE)
    )
    images = aligned_empty((len(paths), size, size, 3))
    filled = 0
    with tqdm(total=len(paths), desc="decode JPEGs", unit="img", disable=not progress) as bar:
        for batch in dataset:
            images[filled : filled + len(batch)] = batch.numpy()
            filled += len(batch)
            bar.update(len(batch))
    cache_dir.mkdir(parents=True, exist_ok=True)
    # a name of its own: trials on one node may decode the same set at once, each writes whole, one wins
    temporary = cache_file.with_name(f"{cache_file.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp.npy")
    try:
        np.save(temporary, images)
        temporary.replace(cache_file)
    finally:
        temporary.unlink(missing_ok=True)
    return images


def shared_tensor(array: np.ndarray) -> tf.Tensor:
    """A tensor over the array's own memory (DLPack) when it is aligned and contiguous; otherwise over
    one aligned copy of it (tf.convert_to_tensor's own path measured a transient second copy)."""
    if not array.size:
        return tf.convert_to_tensor(array)
    if not (array.flags.c_contiguous and array.flags.writeable and array.ctypes.data % ALIGNMENT == 0):
        aligned = aligned_empty(array.shape, array.dtype)
        aligned[...] = array
        array = aligned
    try:
        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    except Exception:  # an older NumPy or TensorFlow without DLPack: TensorFlow copies instead
        return tf.convert_to_tensor(array)


def pipeline_options() -> tf.data.Options:
    """tf.data options for a pipeline over shared arrays: no default graph rewrites (they serialise
    the dataset's graph, which copies every captured tensor: the whole image array); ops run
    single-threaded inside each parallel call, so parallelism is the map's. Autotuning is off: the map's
    calls are set (`map_calls`), without autotuning's bookkeeping on every batch (parallel calls over
    one call, median of 15 alternated pairs on 2 cores: 1.95x off, 1.88x on, 2026-12-05;
    benchmarks/galaxy_pipeline.py)."""
    options = tf.data.Options()
    options.experimental_optimization.apply_default_optimizations = False
    options.threading.max_intra_op_parallelism = 1
    options.autotune.enabled = False
    return options


def map_calls(num_parallel_calls: int) -> int:
    """The map's parallel calls for `training_dataset`: AUTOTUNE (autotuning is off) becomes one call per
    usable core plus one, so a call is queued whenever a core frees (on 2 cores, 3 calls against 2:
    parallel calls over one call 1.74-1.75x against 1.66x, medians of 11 pairs, 2026-12-06)."""
    return usable_cpus() + 1 if num_parallel_calls == AUTOTUNE else num_parallel_calls


def seeds(seed: int) -> tuple[int, int]:
    """(shuffle seed, augmentation seed), two independent streams from the run's seed."""
    shuffle, augment = np.random.SeedSequence([int(seed), 0x6A1A]).generate_state(2)
    return int(shuffle), int(augment)


def view_offsets(crop: int, width: int) -> np.ndarray:
    """(8, crop, crop) int32: for each dihedral view, the flat offset (row * width + column) in the
    source image of every output pixel of a crop at (0, 0). View bit 4 transposes, bit 1 reverses
    the rows, bit 2 the columns: the 8 combinations are the 8 rotations/reflections."""
    i, j = np.meshgrid(np.arange(crop), np.arange(crop), indexing="ij")
    tables = []
    for view in range(DIHEDRAL_VIEWS):
        rows, cols = (j, i) if view & 4 else (i, j)
        rows = crop - 1 - rows if view & 1 else rows
        cols = crop - 1 - cols if view & 2 else cols
        tables.append(rows * width + cols)
    return np.stack(tables).astype(np.int32)


def training_dataset(
    images: np.ndarray,
    targets: np.ndarray,
    batch_size: int,
    crop: int,
    seed: int,
    *,
    rows: np.ndarray | None = None,
    extra: A.BaseCompose | A.BasicTransform | None = None,
    num_parallel_calls: int = AUTOTUNE,
) -> tf.data.Dataset:
    """Shuffled, augmented batches of (crop x crop uint8 images, targets), prefetched.

    `rows` picks the training rows of `images`/`targets` without copying the images (default: all).
    `extra` is an albumentations transform applied after the in-graph crop and view (see
    `albumentations_map`). The images are not copied when `images` is 64-byte aligned and
    C-contiguous (as `decoded_images` returns them); otherwise once.
    """
    count, height, width, _ = images.shape
    rows = np.arange(count) if rows is None else np.asarray(rows)
    n = len(rows)
    if n == 0:
        raise ValueError("training_dataset: no rows to train on")
    if height < crop or width < crop:
        raise ValueError(f"training_dataset: a {crop}-pixel crop does not fit {height}x{width} images")
    shuffle_seed, augment_seed = seeds(seed)
    make_batch = batch_maker(images, targets, rows, crop, augment_seed, keep_key=extra is not None)
    order = epoch_orders(n, batch_size, shuffle_seed)
    keys = tf.data.Dataset.random(seed=augment_seed, rerandomize_each_iteration=True)
    dataset = tf.data.Dataset.zip(order, keys).map(make_batch, num_parallel_calls=map_calls(num_parallel_calls))
    # flat_map hides the length: declared, Keras knows an epoch's steps instead of warning at the end of
    # every epoch that the input "ran out of data"
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(-(-n // batch_size)))
    if extra is not None:
        dataset = dataset.map(albumentations_map(extra, crop), num_parallel_calls=1)
    return dataset.prefetch(PREFETCH_BATCHES).with_options(pipeline_options())


def batch_maker(
    images: np.ndarray, targets: np.ndarray, rows: np.ndarray, crop: int, augment_seed: int, keep_key: bool
):
    """The map (positions in `rows`, the batch's key) -> (cropped, viewed images, targets), and the key
    when `keep_key` (an albumentations transform seeds from it): one `tf.gather` of the batch's pixels."""
    count, height, width, channels = images.shape
    span_rows, span_cols = height - crop + 1, width - crop + 1
    index_dtype = tf.int32 if count * height * width < 2**31 else tf.int64
    pixels = tf.reshape(shared_tensor(images), (count * height * width, channels))
    row_table = tf.constant(rows, dtype=index_dtype)
    target_table = tf.constant(targets)
    view_table = tf.constant(view_offsets(crop, width), dtype=index_dtype)
    draws = span_rows * span_cols * DIHEDRAL_VIEWS

    @tf.autograph.experimental.do_not_convert  # plain tensor ops, no Python control flow to convert
    def make_batch(positions, key):
        galaxy = tf.gather(row_table, positions)
        # one uniform draw per image over (row offset, column offset, view), from this batch's key
        draw = tf.random.stateless_uniform(tf.shape(positions), tf.stack([key, augment_seed]), 0, draws, dtype=tf.int64)
        draw = tf.cast(draw, index_dtype)
        top, left = draw % span_rows, (draw // span_rows) % span_cols
        views = draw // (span_rows * span_cols)
        # every output pixel's flat index in `pixels`: its view's table plus the crop's corner
        corner = galaxy * (height * width) + top * width + left
        flat = tf.gather(view_table, views) + corner[:, None, None]
        batch = tf.gather(pixels, flat), tf.gather(target_table, galaxy)
        return (*batch, key) if keep_key else batch

    return make_batch


def epoch_orders(n: int, batch_size: int, shuffle_seed: int) -> tf.data.Dataset:
    """Each epoch's batches of positions 0..n-1: one key, one permutation of the n positions, cut into
    batches as rows of one tensor (the last one short when batch_size does not divide n)."""
    # an op per epoch and no function call per batch: a map slicing each batch cost a serial ~30 us a
    # batch, which the parallel calls waited on; see benchmarks/README.md
    n_batches, full = -(-n // batch_size), n // batch_size

    def epoch_batches(key):
        order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), tf.stack([key, shuffle_seed]))
        batches = tf.data.Dataset.from_tensor_slices(tf.reshape(order[: full * batch_size], (full, batch_size)))
        if full < n_batches:  # the short last batch
            batches = batches.concatenate(tf.data.Dataset.from_tensors(order[full * batch_size :]))
        return batches

    epoch_key = tf.data.Dataset.random(seed=shuffle_seed, rerandomize_each_iteration=True).take(1)
    return epoch_key.flat_map(epoch_batches)


def albumentations_map(transform: A.BaseCompose | A.BasicTransform, crop: int):
    """A tf.data map (batch, targets, key) -> (batch, targets) applying an albumentations transform to
    every uint8 image of the batch, in Python (GIL-bound: one call at a time is as fast as several).
    Seeded by the batch's key, so the same run seed gives the same images."""
    import albumentations as A

    compose = transform if isinstance(transform, A.BaseCompose) else A.Compose([transform])

    def apply(batch: np.ndarray, key: np.int64) -> np.ndarray:
        compose.set_random_seed(int(key) % 2**32)
        return np.stack([compose(image=image)["image"] for image in batch]).astype(np.uint8, copy=False)

    def map_fn(batch, targets, key):
        out = tf.numpy_function(apply, [batch, key], tf.uint8, stateful=False)
        out.set_shape((None, crop, crop, 3))
        return out, targets

    return map_fn


def stronger_augmentation(seed: int = 0) -> A.Compose:
    """A recipe beyond the dihedral views, from what TensorFlow lacks: arbitrary rotation, scale and
    shear (A.Affine, reflected borders) and Gaussian pixel noise. For `training_dataset(extra=...)`."""
    import albumentations as A
    import cv2

    return A.Compose(
        [
            A.Affine(scale=(0.9, 1.1), rotate=(-45, 45), shear=(-5, 5), border_mode=cv2.BORDER_REFLECT_101, p=0.5),
            A.GaussNoise(std_range=(0.01, 0.04), p=0.3),
        ],
        seed=seed,
    )


def evaluation_dataset(images: np.ndarray, targets: np.ndarray, batch_size: int, crop: int) -> tf.data.Dataset:
    return tf.data.Dataset.from_tensor_slices((centre_crop(images, crop), targets)).batch(batch_size).prefetch(AUTOTUNE)
