"""Supercon dense net: training samples/s of the seed study's preset, Keras fit vs a tf.function loop, batch-size sweep.

All figures are taken in one run on one machine (these machines are noisy: compare the ratios, not
absolute figures across machines). The Keras rows train physml's own `DenseRegressor` on the real
training part (standard-scaled all81 features, 70% split, 20% of it held out for validation each
epoch, as in a run); the first epoch (tracing) is left out of every rate. The tf.function rows run
the same net, optimizer and batches with the whole epoch (training + validation) compiled into one
graph, and Keras with `steps_per_execution=1` (one Python dispatch per step: DenseRegressor before it
switched to 32, physml.tasks.composition.dense.STEPS_PER_EXECUTION), to show where the time per step goes.

    python benchmarks/supercon_dnn_throughput.py [--data-dir ../shared/data] [--epochs 2] [--quick]
"""

from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf
from sklearn.preprocessing import StandardScaler

from physml.bench.record import BenchResult, run_benchmark, task_dir
from physml.models.optimizers import make_optimizer
from physml.tasks import get_task
from physml.tasks.composition.dense import DEFAULT_VALIDATION_SPLIT, DenseRegressor, build_dense_net
from physml.tasks.supercon.data import load_supercon
from physml.tasks.supercon.train import make_split

# Read by `physml bench` (physml/bench/runner.py) without importing this script:
BENCHMARK = "supercon_dnn"
BUDGET_S = 90  # what it should take on 2 CPU cores (full settings); the hard limit is twice this
SUMMARY = "supercon DNN samples/s, Keras fit vs tf.function, batch sweep"


class EpochClock(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.ends: list[float] = []

    def on_epoch_end(self, epoch, logs=None):
        self.ends.append(time.perf_counter())


def seconds_per_epoch(ends: list[float]) -> float:
    """Mean epoch time without the first epoch (tracing and warm-up)."""
    return (ends[-1] - ends[0]) / (len(ends) - 1)


def keras_fit_regressor(X, y, dnn_params: dict, seed: int, batch_size: int, epochs: int) -> float:
    """physml's DenseRegressor.fit (the real code path): seconds per epoch after the first."""
    ends: list[float] = []
    params = {**dnn_params, "epochs": epochs + 1, "batch_size": batch_size, "progress": False}
    DenseRegressor(**params, seed=seed).fit(X, y, on_epoch_end=lambda epoch, metrics: ends.append(time.perf_counter()))
    return seconds_per_epoch(ends)


def prepared(X, y, validation_split: float, seed: int):
    """As DenseRegressor.fit does: float32, Tc standard-scaled, one seeded shuffle, last part validation."""
    X = np.asarray(X, "float32")
    y = np.asarray(y, "float32")
    y = (y - y.mean()) / y.std()
    order = np.random.default_rng(seed).permutation(len(X))
    X, y = X[order], y[order]
    n_val = int(len(X) * validation_split)
    return X[:-n_val], y[:-n_val], X[-n_val:], y[-n_val:]


def keras_steps_per_execution(X, y, dnn, seed: int, batch_size: int, epochs: int, steps: int) -> float:
    keras.utils.set_random_seed(seed)
    model = build_dense_net(X.shape[1], dnn.layers, dnn.units)
    model.compile(optimizer=make_optimizer(dnn.optimizer, dnn.learning_rate), loss="mse", steps_per_execution=steps)
    clock = EpochClock()
    model.fit(
        X,
        (y - y.mean()) / y.std(),
        epochs=epochs + 1,
        batch_size=batch_size,
        validation_split=DEFAULT_VALIDATION_SPLIT,
        shuffle=True,
        verbose=0,
        callbacks=[clock],
    )
    return seconds_per_epoch(clock.ends)


def tf_function_loop(X, y, dnn, seed: int, batch_size: int, epochs: int) -> float:
    """The same net, optimizer, batches and validation pass; each epoch is one tf.function call."""
    keras.utils.set_random_seed(seed)
    x_train, y_train, x_val, y_val = prepared(X, y, DEFAULT_VALIDATION_SPLIT, seed)
    model = build_dense_net(X.shape[1], dnn.layers, dnn.units)
    optimizer = make_optimizer(dnn.optimizer, dnn.learning_rate)
    optimizer.build(model.trainable_variables)
    train_ds = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train[:, None]))
        .shuffle(len(x_train), seed=seed)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    val_ds = tf.data.Dataset.from_tensor_slices((x_val, y_val[:, None])).batch(batch_size).cache()

    @tf.function
    def epoch():
        train_loss, val_loss, steps, val_steps = 0.0, 0.0, 0.0, 0.0
        for xb, yb in train_ds:
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(xb, training=True) - yb))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            train_loss += loss
            steps += 1.0
        for xb, yb in val_ds:
            val_loss += tf.reduce_mean(tf.square(model(xb, training=False) - yb))
            val_steps += 1.0
        return train_loss / steps, val_loss / val_steps

    ends = []
    for _ in range(epochs + 1):
        loss, val = epoch()
        float(loss), float(val)  # wait for the epoch
        ends.append(time.perf_counter())
    if not np.isfinite(float(loss)):
        raise RuntimeError("the tf.function loop diverged")
    return seconds_per_epoch(ends)


def add_arguments(parser) -> None:
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per setting (after one warm-up epoch)")
    parser.add_argument("--batch-sizes", default="16,32,64,128,256")


def measure(args, result: BenchResult) -> None:
    config = get_task("supercon").load_config(preset="seed")
    dnn, seed = config.dnn, config.seed
    epochs = 1 if args.quick else args.epochs
    batch_sizes = [16, 256] if args.quick else [int(b) for b in args.batch_sizes.split(",")]
    split = make_split(config, load_supercon(task_dir(args, "supercon")))
    X = StandardScaler().fit_transform(split.X_train)
    y = split.y_train.to_numpy()
    if args.quick:  # a smoke run: a quarter of the training part
        X, y = X[: len(X) // 4], y[: len(y) // 4]
    samples = int(len(X) * (1 - DEFAULT_VALIDATION_SPLIT))
    dnn_params = config.model_params("dnn")
    result.params.update(
        {
            "preset": "seed",
            "net": f"{dnn.layers}x{dnn.units}",
            "optimizer": dnn.optimizer,
            "learning_rate": dnn.learning_rate,
            "training_samples_per_epoch": samples,
            "validation_samples": len(X) - samples,
            "timed_epochs": epochs,
            "preset_epochs": dnn.epochs,
            "batch_sizes": ",".join(map(str, batch_sizes)),
            "tf_threads_intra": tf.config.threading.get_intra_op_parallelism_threads(),
        }
    )
    result.columns = ["setting", "batch", "samples/s", "s/epoch", "vs Keras fit at the preset's batch"]

    rates: dict[int, float] = {}
    for batch in batch_sizes:
        spe = keras_fit_regressor(X, y, dnn_params, seed, batch, epochs)
        rates[batch] = samples / spe
        result.metrics[f"keras_fit_samples_per_s_batch{batch}"] = rates[batch]
    base_batch = dnn.batch_size if dnn.batch_size in rates else batch_sizes[0]
    base = rates[base_batch]
    for batch in batch_sizes:
        label = "Keras fit (DenseRegressor), seed preset" + (" <- preset" if batch == dnn.batch_size else "")
        result.add_row(label, batch, rates[batch], samples / rates[batch], rates[batch] / base)

    spe_loop = tf_function_loop(X, y, dnn, seed, base_batch, epochs)
    spe_spe = keras_steps_per_execution(X, y, dnn, seed, base_batch, epochs, steps=1)
    loop_rate, spe_rate = samples / spe_loop, samples / spe_spe
    result.add_row("tf.function loop (epoch = one graph call)", base_batch, loop_rate, spe_loop, loop_rate / base)
    result.add_row("Keras fit, steps_per_execution=1 (before)", base_batch, spe_rate, spe_spe, spe_rate / base)
    result.metrics.update(
        {
            "preset_samples_per_s": base,
            "tf_function_loop_samples_per_s": loop_rate,
            "keras_steps_per_execution_1_samples_per_s": spe_rate,
            "tf_function_vs_keras_fit": loop_rate / base,
            "keras_fit_vs_steps_per_execution_1": base / spe_rate,
            "best_batch_vs_preset": max(rates.values()) / base,
            "preset_fit_minutes_projected": dnn.epochs * samples / base / 60,
        }
    )
    steps = -(-samples // base_batch)
    result.check(f"seed preset (batch {base_batch}) samples/s, Keras fit", base, "measured (no target)", None)
    result.check("tf.function loop / Keras fit", loop_rate / base, "informational", None)
    result.check("DenseRegressor / steps_per_execution=1", base / spe_rate, "informational", None)
    result.headline = (
        f"seed preset {base:,.0f} samples/s (batch {base_batch}, {1e3 * samples / base / steps:.2f} ms/step); "
        f"tf.function loop {loop_rate / base:.2f}x; DenseRegressor (steps_per_execution=32) {base / spe_rate:.2f}x "
        f"the one-step-per-call fit; "
        f"batch {max(rates, key=rates.get)} {max(rates.values()) / base:.1f}x"
    )
    result.notes += [
        f"{samples} training samples/epoch + {len(X) - samples} validation samples; {epochs} timed epoch(s) per row after one warm-up epoch",
        (
            f"the seed preset's {dnn.epochs} epochs at batch {base_batch} take about {dnn.epochs * samples / base / 60:.1f} min here "
            f"({1e3 * samples / base / steps:.2f} ms per step of {base_batch} samples: per-step overhead, not arithmetic, dominates a 3x125 net)"
        ),
    ]


if __name__ == "__main__":
    run_benchmark(
        BENCHMARK,
        "supercon dense net training samples/s: seed preset, Keras fit vs tf.function, batch sweep",
        measure,
        add_arguments,
    )
