"""The dense Keras net of the seed study as a scikit-learn regressor, and the knobs of a stronger one.

m hidden ReLU layers of n units, a linear output, MSE loss, SGD or Adam with learning rate eta,
a validation split, epochs and batch size. It pickles (Keras 3 models do), so it sits in a
scikit-learn Pipeline behind the StandardScaler and is logged as one MLflow model.
A stronger tabular net adds batch or layer normalisation between each dense layer and its ReLU,
dropout after it, AdamW (decoupled weight decay) and a cosine-decayed learning rate.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from physml.models.callbacks import EpochHook, EpochReporter, as_hook_list, restore_net
from physml.models.checkpoints import Checkpoints
from physml.models.optimizers import make_optimizer

STEPS_PER_EXECUTION = 32
PREDICT_CHUNK = 65536  # rows per direct call of the net in predict()
DEFAULT_VALIDATION_SPLIT = 0.2  # the last, shuffled fraction validates when no validation part is given


NORMALIZATIONS = ("none", "batch", "layer")


def build_dense_net(
    n_features: int, layers: int, units: int, normalization: str = "none", dropout: float = 0.0
) -> keras.Model:
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"unknown normalization {normalization!r}; choose {', '.join(NORMALIZATIONS)}")
    inputs = keras.Input(shape=(n_features,), name="features")
    x = inputs
    for index in range(1, layers + 1):
        if normalization == "none":
            x = keras.layers.Dense(units, activation="relu", name=f"hidden_{index}")(x)
        else:
            x = keras.layers.Dense(units, use_bias=False, name=f"hidden_{index}")(x)
            norm = keras.layers.BatchNormalization if normalization == "batch" else keras.layers.LayerNormalization
            x = norm(name=f"{normalization}_norm_{index}")(x)
            x = keras.layers.Activation("relu", name=f"relu_{index}")(x)
        if dropout > 0:
            x = keras.layers.Dropout(dropout, name=f"dropout_{index}")(x)
    outputs = keras.layers.Dense(1, name="tc")(x)
    return keras.Model(inputs, outputs, name=f"dense_{layers}x{units}")


class DenseRegressor(RegressorMixin, BaseEstimator):
    """Keras dense net with a scikit-learn face; `fit(..., on_epoch_end=hook)` reports each epoch,
    `fit(..., checkpoints=...)` saves each epoch's state and continues from a saved one, and
    `fit(..., validation_data=(X, y))` validates on that part (else on a shuffled `validation_split`)."""

    def __init__(
        self,
        layers: int = 3,
        units: int = 125,
        optimizer: str = "adam",
        learning_rate: float = 1e-3,
        epochs: int = 40,
        batch_size: int = 64,
        validation_split: float = DEFAULT_VALIDATION_SPLIT,
        scale_target: bool = True,
        seed: int = 42,
        progress: bool = True,
        normalization: str = "none",
        dropout: float = 0.0,
        weight_decay: float = 0.0,
        schedule: str = "constant",
        workers: int = 0,
        cpus_per_worker: float = 1.0,
        gpus_per_worker: float = 0.0,
    ):
        self.layers = layers
        self.units = units
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.normalization = normalization
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.schedule = schedule
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_split = validation_split
        self.scale_target = scale_target
        self.seed = seed
        self.progress = progress
        self.workers = workers  # N >= 1: data parallel on N Ray Train workers (physml.models.data_parallel)
        self.cpus_per_worker = cpus_per_worker
        self.gpus_per_worker = gpus_per_worker

    def fit(
        self,
        X,
        y,
        on_epoch_end: EpochHook | list[EpochHook] | None = None,
        checkpoints: Checkpoints | None = None,
        validation_data: tuple | None = None,
    ):
        keras.utils.set_random_seed(self.seed)
        X = np.asarray(X, dtype="float32")
        y_fit = self._fit_target_scale(np.asarray(y, dtype="float32").reshape(-1))
        X, y_fit, validation = self._validation_part(X, y_fit, validation_data)
        if self.workers >= 1:
            return self._fit_across_workers(X, y_fit, validation)
        resumed = self._build_net(X, checkpoints)
        self.resumed_epoch_ = resumed.epoch if resumed else 0
        callback = EpochReporter(
            self.epochs,
            as_hook_list(on_epoch_end),
            metrics_of=lambda logs: _epoch_metrics(self, logs),
            description="dnn epochs",
            progress=self.progress,
            shown=("train_rmse", "val_rmse"),
            checkpoints=checkpoints,
            resumed=resumed,
        )
        self.model_.fit(
            X,
            y_fit,
            initial_epoch=min(self.resumed_epoch_, self.epochs),
            epochs=self.epochs,
            batch_size=self.batch_size,
            shuffle=True,
            **validation,
            verbose=0,
            callbacks=[callback],
        )
        self.history_ = callback.history
        return self

    def _fit_across_workers(self, X: np.ndarray, y_fit: np.ndarray, validation: dict):
        """The same net trained by `workers` Ray Train workers, each on its shard (dense_worker_loop),
        its epochs logged to the active MLflow run by Ray Train's controller."""
        import mlflow

        from physml.errors import ConfigError
        from physml.models.data_parallel import WorkerPlan, fit_across_workers, load_final_model, logged_history

        if "validation_data" not in validation or mlflow.active_run() is None:
            raise ConfigError("dnn.workers >= 1 trains inside an MLflow run, validating on a validation part")
        run_id = mlflow.active_run().info.run_id
        loop_config = {**self.get_params(), "X": X, "y": y_fit, "validation": validation["validation_data"]}
        loop_config["y_scale"] = self.y_scale_
        plan = WorkerPlan(self.workers, self.cpus_per_worker, self.gpus_per_worker)
        result = fit_across_workers(dense_worker_loop, loop_config, plan, run_id)
        self.model_ = load_final_model(result)
        self.resumed_epoch_ = 0
        self.history_ = logged_history(run_id, ("train_rmse", "val_rmse"))
        mlflow.set_tags(plan.tags())
        return self

    def _fit_target_scale(self, y: np.ndarray) -> np.ndarray:
        """The target the net learns: standardised with `scale_target` (the scale is kept for predict)."""
        self.y_mean_ = float(y.mean()) if self.scale_target else 0.0
        self.y_scale_ = (float(y.std()) or 1.0) if self.scale_target else 1.0
        return (y - self.y_mean_) / self.y_scale_

    def _validation_part(self, X: np.ndarray, y_fit: np.ndarray, validation_data: tuple | None):
        """(X, y_fit, Keras' validation argument): the given part, on the target's scale; else the
        rows shuffled once and a `validation_split` of them."""
        if validation_data is not None:
            X_val, y_val = validation_data
            y_val = (np.asarray(y_val, dtype="float32").reshape(-1) - self.y_mean_) / self.y_scale_
            return X, y_fit, {"validation_data": (np.asarray(X_val, dtype="float32"), y_val)}
        # Keras takes the last fraction as validation; shuffle once (seeded) so it is a random part.
        order = np.random.default_rng(self.seed).permutation(len(X))
        return X[order], y_fit[order], {"validation_split": self.validation_split}

    def _build_net(self, X: np.ndarray, checkpoints: Checkpoints | None):
        """The net, compiled; or restored from the checkpoint it resumes (returned, None if none)."""
        self.model_ = build_dense_net(X.shape[1], self.layers, self.units, self.normalization, self.dropout)
        resumed = checkpoints.resume() if checkpoints else None
        if resumed is not None:  # weights and optimiser state as saved; this config's learning rate
            # (a cosine schedule's rate follows the saved step count instead)
            rate = None if self.schedule == "cosine" else self.learning_rate
            self.model_ = restore_net(resumed, self.model_, rate)
            return resumed
        # Several steps per call to the compiled train function: the study's tiny net at batch 16
        # spends most of a step in Python dispatch otherwise (benchmarks/: the dense net's throughput, 6x).
        self.model_.compile(
            optimizer=make_optimizer(
                self.optimizer,
                self.learning_rate,
                self.schedule,
                self.epochs * math.ceil(len(X) / self.batch_size),
                self.weight_decay,
            ),
            loss="mse",
            steps_per_execution=STEPS_PER_EXECUTION,
        )
        return None

    def predict(self, X):
        # The net called directly, in chunks: Keras' predict() builds a data pipeline and a traced
        # function per call (retraced for each new last-batch size), about 0.2 s a call, and SHAP's
        # PermutationExplainer calls it some 400 times per run (95 s of a 1-epoch run's 124 s).
        X = np.asarray(X, dtype="float32")
        chunks = [
            np.asarray(self.model_(X[start : start + PREDICT_CHUNK], training=False))
            for start in range(0, len(X), PREDICT_CHUNK)
        ]
        scaled = np.concatenate(chunks).reshape(-1) if chunks else np.zeros(0, dtype="float32")
        return scaled.astype("float64") * self.y_scale_ + self.y_mean_


def dense_worker_loop(config: dict) -> None:
    """One Ray Train worker's part of the data-parallel fit (physml.models.data_parallel): the net
    under MultiWorkerMirroredStrategy, this worker's shard of the rows (rank::workers) batched at
    batch_size / workers a step (the global batch is batch_size), rows / batch_size steps an epoch,
    each epoch reported (rank 0 with the model) and resumed from the last checkpoint after a restart."""
    from physml.models import data_parallel

    data_parallel.prepare_worker()
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    facts = data_parallel.worker_facts()
    rank, workers, batch = facts["rank"], config["workers"], config["batch_size"]
    X, y = config["X"][rank::workers], config["y"][rank::workers]
    facts["rows"] = len(X)
    steps = max(1, len(config["X"]) // batch)

    def shard(context):
        rows = tf.data.Dataset.from_tensor_slices((X, y)).shuffle(len(X), seed=config["seed"] + rank).repeat()
        return rows.batch(context.get_per_replica_batch_size(batch), drop_remainder=True)

    data = strategy.distribute_datasets_from_function(shard)
    with strategy.scope():
        model, done = data_parallel.resumed_model(keras.models.load_model)
        if model is None:
            keras.utils.set_random_seed(config["seed"])
            model = build_dense_net(
                X.shape[1], config["layers"], config["units"], config["normalization"], config["dropout"]
            )
            optimizer = make_optimizer(
                config["optimizer"],
                config["learning_rate"],
                config["schedule"],
                config["epochs"] * steps,
                config["weight_decay"],
            )
            model.compile(optimizer=optimizer, loss="mse")
    X_val, y_val = config["validation"]

    def metrics_of(logs: dict) -> dict[str, float]:
        predicted = np.asarray(model(X_val, training=False)).reshape(-1)
        val_loss = float(np.mean((predicted - y_val) ** 2))
        return {
            "loss": float(logs["loss"]),
            "val_loss": val_loss,
            "train_rmse": math.sqrt(float(logs["loss"])) * config["y_scale"],
            "val_rmse": math.sqrt(val_loss) * config["y_scale"],
        }

    report = data_parallel.epoch_reporter(model, facts, steps, metrics_of)
    model.fit(data, epochs=config["epochs"], initial_epoch=done, steps_per_epoch=steps, verbose=0, callbacks=[report])


def _epoch_metrics(regressor: DenseRegressor, logs: dict) -> dict[str, float]:
    """Keras logs (training scale) plus RMSE in kelvin, which reads the same with or without target scaling."""
    metrics = {key: float(value) for key, value in logs.items() if key in ("loss", "val_loss")}
    for key in ("loss", "val_loss"):
        if key in metrics and math.isfinite(metrics[key]) and metrics[key] >= 0:
            prefix = "val_" if key.startswith("val") else "train_"
            metrics[f"{prefix}rmse"] = math.sqrt(metrics[key]) * regressor.y_scale_
    return metrics
