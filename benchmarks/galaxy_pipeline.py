"""Galaxy Zoo: is the input pipeline faster than the CNN it feeds? (target: >= 3x the training step)

Measured in one run on one machine, as images/s and ratios:
  1. decode + centre crop + resize from JPEG (uncached), tf.data map with 1 parallel call vs AUTOTUNE
  2. physml's `decoded_images` cold (decode + write the .npy cache) vs warm (read the cache)
  3. augmented training batches from the 70x70 cache: physml's `training_dataset` (random crop +
     albumentations dihedral ops, AUTOTUNE), and the same map with 1 parallel call
  4. the uncached pipeline: JPEG -> decode -> crop -> resize -> augment per epoch (no cache)
  5. the CNN's training step alone (Keras fit on one in-memory batch, repeated), default config
  6. Keras fit fed by `training_dataset` (the pipeline and the model sharing the CPUs, as in a run)
The OS file cache is warmed first (every JPEG read once), so the decode rows measure decoding, not the disk.

    python benchmarks/galaxy_pipeline.py [--data-dir ../shared/data] [--images 2048] [--quick]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from physml.bench.record import BenchResult, run_benchmark, task_dir
from physml.tasks import get_task
from physml.tasks.galaxy.cnn import build_cnn, compile_classifier
from physml.tasks.galaxy.data import load_galaxy_zoo
from physml.tasks.galaxy.images import (
    decode_and_shrink,
    decoded_images,
    training_augmentation,
    training_dataset,
)

# Read by `physml bench` (physml/bench/runner.py) without importing this script:
BENCHMARK = "galaxy_pipeline"
BUDGET_S = 90  # what it should take on 2 CPU cores (full settings); the hard limit is twice this
SUMMARY = "Galaxy input pipeline images/s vs the CNN's (>= 3x)"

AUTOTUNE = tf.data.AUTOTUNE


def images_per_second(dataset: tf.data.Dataset, count: int) -> float:
    started = time.perf_counter()
    seen = 0
    for batch in dataset:
        seen += int(batch[0].shape[0]) if isinstance(batch, tuple) else int(batch.shape[0])
    assert seen == count, f"pipeline gave {seen} images, expected {count}"
    return count / (time.perf_counter() - started)


def augment_map(crop: int, seed: int):
    """physml's training augmentation as a tf.data map function (as in images.training_dataset)."""
    augment = training_augmentation(crop, seed)

    def map_fn(image, target):
        out = tf.numpy_function(lambda im: augment(image=im)["image"], [image], tf.uint8, stateful=True)
        out.set_shape((crop, crop, 3))
        return out, target

    return map_fn


def training_flops_per_image(model) -> float:
    """Floating-point operations of one training image: the conv and dense layers' multiply-adds
    (2 FLOP each) forward, times 3 for forward + the two backward products (inputs and weights)."""
    forward = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, height, width, _ = layer.output.shape
            forward += 2 * height * width * int(np.prod(layer.kernel.shape))
        elif isinstance(layer, keras.layers.Dense):
            forward += 2 * int(np.prod(layer.kernel.shape))
    return 3.0 * forward


def add_arguments(parser) -> None:
    parser.add_argument("--images", type=int, default=2048, help="galaxies measured (the first N by GalaxyID)")


def measure(args, result: BenchResult) -> None:
    config = get_task("galaxy").load_config()
    data, batch = config.data, config.train.batch_size
    limit = 256 if args.quick else args.images
    catalogue = load_galaxy_zoo(task_dir(args, "galaxy_zoo"), limit=limit, progress=False)
    paths = [str(p) for p in catalogue.image_paths]
    n = len(paths)
    for path in paths:  # warm the OS file cache: the rows below measure decoding, not the disk
        Path(path).read_bytes()
    targets = np.eye(4, dtype="float32")[np.arange(n) % 4]
    result.params.update(
        {
            "images": n,
            "batch_size": batch,
            "crop": data.crop,
            "size": data.size,
            "input_size": data.input_size,
            "model.filters": config.model.filters,
            "tf_version": tf.__version__,
        }
    )
    result.columns = ["stage", "images/s", "vs CNN training step"]
    rates: dict[str, float] = {}

    def decode_ds(calls):
        return (
            tf.data.Dataset.from_tensor_slices(paths)
            .map(lambda p: decode_and_shrink(p, data.crop, data.size), num_parallel_calls=calls)
            .batch(256)
            .prefetch(2)
        )

    rates["decode_1call"] = images_per_second(decode_ds(1), n)
    rates["decode_autotune"] = images_per_second(decode_ds(AUTOTUNE), n)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        cache = decoded_images([Path(p) for p in paths], data.crop, data.size, cache_dir=Path(tmp), progress=False)
        rates["decoded_images_cold"] = n / (time.perf_counter() - started)
        started = time.perf_counter()
        cached_again = decoded_images(
            [Path(p) for p in paths], data.crop, data.size, cache_dir=Path(tmp), progress=False
        )
        rates["decoded_images_warm"] = n / (time.perf_counter() - started)
        assert np.array_equal(cache, cached_again)

    augmented = training_dataset(cache, targets, batch, data.input_size, seed=0)  # physml's own pipeline
    images_per_second(augmented, n)  # warm-up (albumentations, tf.data threads)
    rates["augment_autotune"] = images_per_second(augmented, n)
    one_call = (
        tf.data.Dataset.from_tensor_slices((cache, targets))
        .shuffle(n, seed=0)
        .map(augment_map(data.input_size, 0), num_parallel_calls=1)
        .batch(batch)
        .prefetch(AUTOTUNE)
    )
    rates["augment_1call"] = images_per_second(one_call, n)
    uncached = (
        tf.data.Dataset.from_tensor_slices((paths, targets))
        .shuffle(n, seed=0)
        .map(lambda p, t: (decode_and_shrink(p, data.crop, data.size), t), num_parallel_calls=AUTOTUNE)
        .map(augment_map(data.input_size, 0), num_parallel_calls=AUTOTUNE)
        .batch(batch)
        .prefetch(AUTOTUNE)
    )
    rates["uncached_pipeline"] = images_per_second(uncached, n)

    model = build_cnn(data.input_size, 4, config.model)
    compile_classifier(model, config.train.learning_rate, [1.0] * 4, config.train.focal_gamma)
    x = np.random.default_rng(0).integers(0, 256, (batch, data.input_size, data.input_size, 3)).astype("uint8")
    steps = max(2, n // batch)
    one_batch = tf.data.Dataset.from_tensors((x, targets[:batch])).repeat(steps)
    model.fit(one_batch.take(2), epochs=1, verbose=0)  # trace
    started = time.perf_counter()
    model.fit(one_batch, epochs=1, verbose=0)
    rates["cnn_step"] = steps * batch / (time.perf_counter() - started)
    started = time.perf_counter()
    model.fit(augmented, epochs=1, verbose=0)
    rates["fit_fed_by_pipeline"] = n / (time.perf_counter() - started)

    model_rate = rates["cnn_step"]
    labels = {
        "decode_1call": "decode + crop + resize from JPEG, 1 call",
        "decode_autotune": "decode + crop + resize from JPEG, AUTOTUNE",
        "decoded_images_cold": "decoded_images(): cold (decode + write cache)",
        "decoded_images_warm": "decoded_images(): warm (read .npy cache)",
        "augment_1call": "augmented batches from cache, 1 call",
        "augment_autotune": "augmented batches from cache, AUTOTUNE (training_dataset)",
        "uncached_pipeline": "uncached: JPEG -> decode -> augment, AUTOTUNE",
        "cnn_step": "CNN training step alone (in-memory batch)",
        "fit_fed_by_pipeline": "Keras fit fed by training_dataset",
    }
    for key, label in labels.items():
        result.add_row(label, rates[key], rates[key] / model_rate)
        result.metrics[f"{key}_images_per_s"] = rates[key]
    ratio = rates["augment_autotune"] / model_rate
    result.metrics.update(
        {
            "pipeline_vs_model": ratio,
            "uncached_pipeline_vs_model": rates["uncached_pipeline"] / model_rate,
            "decode_parallel_speedup": rates["decode_autotune"] / rates["decode_1call"],
            "augment_parallel_speedup": rates["augment_autotune"] / rates["augment_1call"],
            "fit_vs_model_alone": rates["fit_fed_by_pipeline"] / model_rate,
        }
    )
    flops = training_flops_per_image(model)
    cnn_gflops, peak = model_rate * flops / 1e9, float(result.machine["machine.matmul_gflops"])  # measured at start
    result.metrics.update(
        {
            "cnn_training_mflop_per_image": flops / 1e6,
            "cnn_step_gflops": cnn_gflops,
            "matmul_gflops": peak,
            "cnn_step_share_of_matmul": cnn_gflops / peak,
        }
    )
    result.check("pipeline (cached, augmented) / CNN step", ratio, ">= 3x", ratio >= 3)
    result.check("uncached pipeline / CNN step", rates["uncached_pipeline"] / model_rate, ">= 3x (informational)", None)
    result.check(
        "fit fed by pipeline / CNN step alone",
        rates["fit_fed_by_pipeline"] / model_rate,
        "~1 (pipeline not the bottleneck)",
        None,
    )
    result.check("CNN step GFLOP/s / this host's float32 matmul GFLOP/s", cnn_gflops / peak, "informational", None)
    result.headline = (
        f"pipeline {rates['augment_autotune']:,.0f} img/s = {ratio:.1f}x the CNN step ({model_rate:,.0f} img/s); "
        f"uncached {rates['uncached_pipeline'] / model_rate:.1f}x; parallel calls: decode "
        f"{rates['decode_autotune'] / rates['decode_1call']:.2f}x, augment {rates['augment_autotune'] / rates['augment_1call']:.2f}x"
    )
    result.notes += [
        f"{n} galaxies, batch {batch}; each rate is one pass over them (the augmented pipeline after one warm-up pass)",
        (
            f"the CNN trains at {flops / 1e6:.0f} MFLOP per image (conv + dense multiply-adds x 3): {cnn_gflops:.0f} GFLOP/s, "
            f"{100 * cnn_gflops / peak:.0f}% of this host's float32 matmul ({peak:.0f} GFLOP/s): compute-bound, so its images/s "
            "follows the host's speed"
        ),
        (
            "on one machine the pipeline and the model share the CPUs: the run figure is 'fit fed by training_dataset', "
            "which should be close to the model alone when the pipeline keeps up"
        ),
    ]


if __name__ == "__main__":
    run_benchmark(
        BENCHMARK, "Galaxy Zoo input pipeline images/s against the CNN's training images/s", measure, add_arguments
    )
