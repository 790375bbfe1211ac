"""Galaxy Zoo: is the input pipeline faster than the CNN it feeds? (target: >= 3x)

Measured in one run on one machine, as ratios:
  1. decode + centre crop + resize (uncached), tf.data map with 1 parallel call vs AUTOTUNE
  2. augmented training batches from the 70x70 cache (random crop + albumentations dihedral ops)
  3. the CNN's training step alone (fixed in-memory batches: no pipeline), default config
  4. Keras fit fed by the pipeline, images/s

    python benchmarks/galaxy_pipeline.py [--data-dir ../shared/data/galaxy_zoo] [--images 2048]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import tensorflow as tf

from physml.config import load_galaxy_config
from physml.data.galaxy import load_galaxy_zoo
from physml.data.images import decode_and_shrink, training_dataset
from physml.models.cnn import build_cnn, compile_classifier


def images_per_second(dataset: tf.data.Dataset, count: int) -> float:
    started = time.perf_counter()
    for _ in dataset:
        pass
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--images", type=int, default=2048)
    args = parser.parse_args()
    config = load_galaxy_config()
    data, batch = config.data, config.train.batch_size
    paths = [str(p) for p in load_galaxy_zoo(args.data_dir, limit=args.images, progress=False).image_paths]
    n = len(paths)

    rows = []
    for calls, label in ((1, "decode+crop+resize, 1 call"), (tf.data.AUTOTUNE, "decode+crop+resize, AUTOTUNE")):
        ds = tf.data.Dataset.from_tensor_slices(paths).map(lambda p: decode_and_shrink(p, data.crop, data.size),
                                                           num_parallel_calls=calls).batch(256).prefetch(2)  # fmt: skip
        rows.append((label, images_per_second(ds, n)))
    cache = np.concatenate([b.numpy() for b in tf.data.Dataset.from_tensor_slices(paths).map(
        lambda p: decode_and_shrink(p, data.crop, data.size), num_parallel_calls=tf.data.AUTOTUNE).batch(256)])  # fmt: skip
    targets = np.eye(4, dtype="float32")[np.arange(n) % 4]
    augmented = training_dataset(cache, targets, batch, data.input_size, seed=0)
    images_per_second(augmented, n)  # warm-up
    pipeline_rate = images_per_second(augmented, n)
    rows.append(("augmented batches from cache", pipeline_rate))

    model = build_cnn(data.input_size, 4, config.model)
    compile_classifier(model, config.train.learning_rate, [1.0] * 4, config.train.focal_gamma)
    x = tf.constant(np.random.default_rng(0).uniform(0, 255, (batch, data.input_size, data.input_size, 3)).astype("float32"))
    y = tf.constant(targets[:batch])
    model.train_on_batch(x, y)  # trace
    steps = max(1, n // batch)
    started = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    model_rate = steps * batch / (time.perf_counter() - started)
    rows.append(("CNN training step alone", model_rate))
    started = time.perf_counter()
    model.fit(augmented, epochs=1, verbose=0)
    rows.append(("Keras fit fed by the pipeline", n / (time.perf_counter() - started)))

    print(f"{n} galaxies, batch {batch}, {os.cpu_count()} CPUs, TF {tf.__version__}")
    print(f"{'stage':<34} {'images/s':>10}")
    for label, rate in rows:
        print(f"{label:<34} {rate:>10.0f}")
    print(f"\npipeline (augmented, cached) / CNN training step = {pipeline_rate / model_rate:.1f}x (target >= 3x)")
    print(f"decode speed-up from parallel calls = {rows[1][1] / rows[0][1]:.2f}x")


if __name__ == "__main__":
    main()
