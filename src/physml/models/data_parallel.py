"""One Keras model trained across workers (data parallel) on Ray Train v2, in one MLflow run.

The driver owns the MLflow run. Ray Train's controller logs each epoch to it by run id (a
`UserCallback`: it fires once per report that every worker made, after the epoch's checkpoint is
persisted), so an epoch's metrics are logged only once its checkpoint is safe, and an epoch that a
restarted worker group runs again is logged once. Every worker builds the same net under
`tf.distribute.MultiWorkerMirroredStrategy` and reads its own shard of the rows (rank::workers); the
global batch is the single-worker recipe's, split evenly (each replica takes batch / workers rows a
step), so steps per epoch = rows / batch as with one worker. Rank 0 saves the model each epoch as the
checkpoint a restarted group resumes from (docs/notes/ray-train-spike.md).
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ray.train import UserCallback

MODEL_FILE = "model.keras"
EPOCH_FILE = "epoch.txt"


@dataclass(frozen=True)
class WorkerPlan:
    """How many workers train the model, and what each asks Ray for."""

    workers: int
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0

    def resources(self) -> dict[str, float]:
        return {"CPU": self.cpus_per_worker, **({"GPU": self.gpus_per_worker} if self.gpus_per_worker else {})}

    def tags(self) -> dict[str, str]:
        """What the run is tagged with besides each worker's facts."""
        names = ("workers", "cpus_per_worker", "gpus_per_worker")
        return {f"train.{name}": str(getattr(self, name)) for name in names}


def prepare_worker() -> None:
    """A worker's first lines, before TensorFlow builds anything: Ray's TensorFlow backend sets
    TF_USE_LEGACY_KERAS=1 on its workers (ray/train/tensorflow/config.py, `_setup_tensorflow_environment`)
    and tf_keras is not installed, so a subprocess of the worker would fail to import Keras: drop it.
    One intra- and one inter-op thread: the workers share the machine's cores."""
    import tensorflow as tf

    os.environ.pop("TF_USE_LEGACY_KERAS", None)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already initialised in this process (a restarted worker reuses none)
        pass
    patch_keras_for_multi_worker()


def patch_keras_for_multi_worker() -> None:
    """Two Keras 3 bugs that fail `fit` under MultiWorkerMirroredStrategy (keras-team/keras#20585,
    ray-project/ray#47464), both in keras/src/backend/tensorflow/trainer.py, worked around here alone:
    1. `_maybe_symbolic_build` MEAN-reduces the first (x, y) batch across workers to learn its shapes
       ("Attempt to convert a value (PerReplica...) to a Tensor"): build from the local replica's batch.
    2. `reduce_per_replica` reduces scalar logs with axis=0 ("Invalid reduction dimension 0 for input
       with 0 dimensions"): reduce a scalar with axis=None."""
    import tensorflow as tf
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer, "_physml_patched", False):
        return
    original_reduce = trainer.reduce_per_replica

    def local_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None:
            return
        strategy = self.distribute_strategy
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = next(it)
                break

        def local(value):
            is_distributed = isinstance(value, tf.distribute.DistributedValues)
            return strategy.experimental_local_results(value)[0] if is_distributed else value

        with strategy.scope():
            self._symbolic_build(data_batch=tree.map_structure(local, data_batch))

    def reduce_scalars_too(values, strategy, reduction):
        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):

            def mean(value):
                local = strategy.experimental_local_results(value)[0] if hasattr(value, "values") else value
                return strategy.reduce("MEAN", value, axis=0 if len(local.shape) else None)

            return tree.map_structure(mean, values)
        return original_reduce(values, strategy, reduction)

    trainer.TensorFlowTrainer._maybe_symbolic_build = local_symbolic_build
    trainer.reduce_per_replica = reduce_scalars_too
    trainer._physml_patched = True


def worker_facts() -> dict[str, Any]:
    """Where this worker runs: its rank, node (host name and Ray node id), TensorFlow's devices and the
    GPUs Ray gave it (ids; none without --gpus-per-worker)."""
    import ray
    import tensorflow as tf

    context = ray.train.get_context()
    devices = ",".join(device.name for device in tf.config.list_physical_devices())
    return {
        "rank": context.get_world_rank(),
        "host": socket.gethostname(),
        "node_id": ray.get_runtime_context().get_node_id(),
        "pid": os.getpid(),
        "devices": devices,
        "gpus": ",".join(str(gpu) for gpu in ray.get_gpu_ids()) or "none",
    }


def report_epoch(epoch: int, metrics: dict[str, float], model, facts: dict[str, Any]) -> None:
    """Every worker reports the epoch (a collective step of Ray Train); rank 0 with the model saved
    as the checkpoint. `epoch` counts from 1."""
    import ray
    from ray.train import Checkpoint

    facts = {**facts, "weights_digest": weights_digest(model)}
    payload = {"epoch": epoch, **metrics, **{f"worker.{key}": value for key, value in facts.items()}}
    if facts["rank"] != 0:
        ray.train.report(payload, checkpoint=None)
        return
    with tempfile.TemporaryDirectory() as folder:
        model.save(Path(folder) / MODEL_FILE)
        (Path(folder) / EPOCH_FILE).write_text(str(epoch))
        ray.train.report(payload, checkpoint=Checkpoint.from_directory(folder))


def epoch_reporter(model, facts: dict[str, Any], steps: int, metrics_of: Callable[[dict], dict[str, float]]):
    """The Keras callback of a worker's fit: each epoch's `metrics_of(Keras' logs)`, its steps and
    seconds (per epoch and per step), reported by report_epoch."""
    import time

    import keras

    class EpochReport(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self.started
            metrics = metrics_of(logs or {})
            metrics |= {"steps_per_epoch": float(steps), "epoch_seconds": seconds, "step_seconds": seconds / steps}
            report_epoch(epoch + 1, metrics, model, facts)

    return EpochReport()


def logged_history(run_id: str, keys) -> dict[str, list[float]]:
    """{metric: its values by step} of the run's logged epochs (what the controller logged), for the
    keys the run has."""
    from mlflow import MlflowClient

    client = MlflowClient()
    history = {key: sorted(client.get_metric_history(run_id, key), key=lambda m: m.step) for key in keys}
    return {key: [m.value for m in values] for key, values in history.items() if values}


def weights_digest(model) -> str:
    """SHA-256 of the model's weights: equal on every worker after an epoch when training is data parallel."""
    import hashlib

    import numpy as np

    digest = hashlib.sha256()
    for weights in model.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()[:16]


def resumed_model(load: Callable[[Path], Any]):
    """(the model, epochs done) from the group's last checkpoint, or (None, 0) on a first start."""
    import ray

    checkpoint = ray.train.get_checkpoint()
    if checkpoint is None:
        return None, 0
    with checkpoint.as_directory() as folder:
        return load(Path(folder) / MODEL_FILE), int((Path(folder) / EPOCH_FILE).read_text())


def load_final_model(result, best: tuple[str, str] | None = None):
    """Rank 0's model from Ray Train's result: after the last epoch, or with `best` (metric, "max" or
    "min") the epoch that scored best; then the run's checkpoint folder under local storage is removed
    (the MLflow run logs the model)."""
    import keras

    checkpoint = result.get_best_checkpoint(*best) if best else result.checkpoint
    with checkpoint.as_directory() as folder:
        model = keras.models.load_model(Path(folder) / MODEL_FILE)
    try:
        result.filesystem.delete_dir(result.path)
    except OSError:  # already gone; the model is loaded either way
        pass
    return model


def storage():
    """(path, pyarrow filesystem or None) where the workers' checkpoints go: $PHYSML_TRAIN_STORAGE
    (`train --storage`: a folder every node sees, or s3://...); inside a Tune trial, the trial's folder
    on the search's storage (`tune --storage`, which every node of a cluster reaches); else a folder
    under this machine's temporary directory (enough for one machine)."""
    if configured := os.environ.get("PHYSML_TRAIN_STORAGE"):
        return configured, None
    from ray.tune.trainable.trainable_fn_utils import _in_tune_session

    if _in_tune_session():
        import ray.tune

        search = ray.tune.get_context().get_storage()
        return f"{search.trial_fs_path}/physml-train", search.storage_filesystem
    return str(Path(tempfile.gettempdir()) / "physml-train"), None


class EpochsToMlflow(UserCallback):
    """In Ray Train's controller: each epoch's rank-0 metrics to the MLflow run `run_id` at step =
    epoch, once (a restarted group's repeated epoch is skipped); the first report's worker facts as
    tags (`train.worker.<rank>.host`, `.node_id`, `.devices`, `.rows` of its shard, `.weights_digest` after
    the first epoch); restarts counted in `train.restarts`."""

    def __init__(self, tracking_uri: str, run_id: str):
        self.tracking_uri, self.run_id = tracking_uri, run_id
        self.logged, self.tagged, self.restarts, self.failing = 0, False, 0, False

    def after_report(self, run_context, metrics: list[dict[str, Any]], checkpoint) -> None:
        import time

        from mlflow import MlflowClient
        from mlflow.entities import Metric

        client = MlflowClient(self.tracking_uri)
        first = metrics[0]
        epoch = int(first["epoch"])
        self.failing = False
        if not self.tagged:
            for facts in metrics:
                rank = facts["worker.rank"]
                for key in ("host", "node_id", "pid", "devices", "gpus", "rows", "weights_digest"):
                    client.set_tag(self.run_id, f"train.worker.{rank}.{key}", str(facts[f"worker.{key}"]))
            self.tagged = True
        if epoch <= self.logged:
            return
        now = int(time.time() * 1000)
        values = {k: v for k, v in first.items() if k != "epoch" and not k.startswith("worker.")}
        client.log_batch(self.run_id, metrics=[Metric(k, float(v), now, epoch) for k, v in values.items()])
        self.logged = epoch

    def after_exception(self, run_context, worker_exceptions) -> None:
        from mlflow import MlflowClient

        if self.failing:  # the same failure, seen again before the group reports anew
            return
        self.failing, self.restarts = True, self.restarts + 1
        MlflowClient(self.tracking_uri).set_tag(self.run_id, "train.restarts", str(self.restarts))


def missing_resources(plan: WorkerPlan, cluster: dict[str, float]) -> str | None:
    """What the plan asks of the cluster beyond what it has (`cluster`: Ray's cluster_resources()), in
    words, or None when it fits."""
    short = []
    for name, each in plan.resources().items():
        need, have = each * plan.workers, float(cluster.get(name, 0))
        if need > have:
            short.append(f"{need:g} {name} ({plan.workers} x {each:g}) but the cluster has {have:g}")
    return "; ".join(short) or None


def check_resources(plan: WorkerPlan, started_here: bool) -> None:
    """A Ray that physml started on this machine never grows: refuse a plan it cannot place, in one
    line, instead of waiting for resources forever. A cluster this process joined may have an
    autoscaler that adds nodes: say what is missing and wait."""
    import ray

    from physml.errors import ConfigError

    missing = missing_resources(plan, ray.cluster_resources())
    if missing and started_here:
        ray.shutdown()
        raise ConfigError(
            f"--workers {plan.workers}: the workers need {missing} (the Ray physml started on this machine, "
            "which cannot grow); lower --workers, --cpus-per-worker or --gpus-per-worker, or join a cluster "
            "that has them (RAY_ADDRESS)"
        )
    if missing:
        print(f"physml: waiting for Ray resources: the workers need {missing} (an autoscaler may add nodes)")


def fit_across_workers(
    train_loop: Callable[[dict], None],
    loop_config: dict,
    plan: WorkerPlan,
    run_id: str,
    best: tuple[str, str] | None = None,
    max_failures: int = 1,
):
    """Run `train_loop(loop_config)` on `plan.workers` Ray Train workers (a Ray cluster this process
    is attached to, or a local one started for it), the controller logging to MLflow run `run_id`;
    returns Ray Train's Result (its checkpoint: rank 0's model after the last epoch; with `best`
    (metric, mode) the best-scoring epoch's checkpoint is kept too)."""
    import mlflow
    import ray
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.tensorflow import TensorflowTrainer

    started_here = not ray.is_initialized() and not os.environ.get("RAY_ADDRESS")
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS", "local"), include_dashboard=False, log_to_driver=False)
    check_resources(plan, started_here)
    kept = {"checkpoint_score_attribute": best[0], "checkpoint_score_order": best[1]} if best else {}
    path, filesystem = storage()
    trainer = TensorflowTrainer(
        train_loop,
        train_loop_config=loop_config,
        scaling_config=ScalingConfig(
            num_workers=plan.workers, use_gpu=plan.gpus_per_worker > 0, resources_per_worker=plan.resources()
        ),
        run_config=RunConfig(
            name=f"physml-{run_id}",
            storage_path=path,
            storage_filesystem=filesystem,
            failure_config=FailureConfig(max_failures=max_failures),
            checkpoint_config=CheckpointConfig(num_to_keep=2, **kept),  # and always the latest
            callbacks=[EpochsToMlflow(mlflow.get_tracking_uri(), run_id)],
        ),
    )
    return trainer.fit()
