"""galaxy's CNN trained by N Ray Train workers (`--workers N`, train.workers): one net, data parallel.

Each worker decodes only its own shard of the training galaxies (rank::N of the training rows, from
their JPEGs, through the same disk cache as one process) and augments it with the same in-graph
pipeline (images.training_dataset). The global batch is train.batch_size and each replica takes
batch_size / N images a step, so an epoch is n_train // batch_size steps and the learning rate and its
schedule are the one-process recipe's. Each epoch rank 0 scores the validation part and saves the net
as the epoch's checkpoint (physml.models.data_parallel); the driver then loads the epoch that scored
best on validation, as a one-process run keeps its best epoch, and evaluates it as one process does.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from physml.tasks.galaxy.cnn import build_cnn
from physml.tasks.galaxy.config import GalaxyConfig
from physml.tasks.galaxy.data import GalaxySet
from physml.tasks.galaxy.images import decoded_images, stronger_augmentation, training_dataset
from physml.tasks.galaxy.preprocess import centre_crop
from physml.tasks.galaxy.targets import galaxy_target

EVALUATION_BATCH = 256


def fit_on_workers(config: GalaxyConfig, data: GalaxySet) -> tuple[keras.Model, dict[str, list[float]]]:
    """The net trained by config.train.workers Ray Train workers inside the active MLflow run (its epochs
    logged by Ray Train's controller); (the best epoch's net, the logged history)."""
    import mlflow

    from physml.models.data_parallel import WorkerPlan, fit_across_workers, load_final_model, logged_history

    target, training = galaxy_target(config), config.train
    train_rows, val_rows = data.split["train"], data.split["val"]
    mlflow.log_params(target.params(training, data.labels[train_rows], len(data.class_names)))
    catalogue = data.catalogue
    hashes = dict(zip(catalogue.votes.index, catalogue.image_hashes)) if catalogue.image_hashes else None
    galaxies = data.ids[train_rows]
    loop = {
        "config": config,
        "paths": [str(catalogue.image_paths[galaxy]) for galaxy in galaxies],  # the JPEGs: workers decode them
        "hashes": [hashes[galaxy] for galaxy in galaxies] if hashes else None,
        "targets": data.targets[train_rows],
        "labels": data.labels[train_rows],
        "n_classes": len(data.class_names),
        "val_images": np.ascontiguousarray(centre_crop(data.images[val_rows], config.data.input_size)),
        "val_targets": data.targets[val_rows],
        "val_labels": data.labels[val_rows],
    }
    plan = WorkerPlan(training.workers, training.cpus_per_worker, training.gpus_per_worker)
    run_id = mlflow.active_run().info.run_id
    result = fit_across_workers(galaxy_worker_loop, loop, plan, run_id, best=target.monitor)
    mlflow.set_tags(plan.tags())
    keys = {"loss", "val_loss", *(key for panel in target.curves.values() for key in panel)}
    return load_final_model(result, best=target.monitor), logged_history(run_id, keys)


def galaxy_worker_loop(loop: dict) -> None:
    """One Ray Train worker's part (see the module's docstring): its shard decoded, the net under
    MultiWorkerMirroredStrategy, each epoch reported and resumed from the last checkpoint after a restart."""
    from physml.models import data_parallel

    data_parallel.prepare_worker()
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    facts = data_parallel.worker_facts()
    config: GalaxyConfig = loop["config"]
    rank, workers, batch = facts["rank"], config.train.workers, config.train.batch_size
    hashes = loop["hashes"][rank::workers] if loop["hashes"] else None
    paths = [Path(path) for path in loop["paths"][rank::workers]]
    images = decoded_images(paths, config.data.crop, config.data.size, progress=False, hashes=hashes)
    targets = loop["targets"][rank::workers]
    facts["rows"] = len(images)
    steps = max(1, len(loop["paths"]) // batch)
    seed = config.seed + rank  # each shard its own shuffle and augmentation stream
    extra = stronger_augmentation(seed) if config.train.augmentation == "strong" else None

    def shard(context):
        per_replica = context.get_per_replica_batch_size(batch)
        return training_dataset(images, targets, per_replica, config.data.input_size, seed, extra=extra).repeat()

    batches = strategy.distribute_datasets_from_function(shard)
    target = galaxy_target(config)
    with strategy.scope():
        model, done = data_parallel.resumed_model(keras.models.load_model)
        if model is None:
            keras.utils.set_random_seed(config.seed)  # the same initial weights on every worker
            output = target.output(config.model.tree_output)
            model = build_cnn(config.data.input_size, targets.shape[1], config.model, output)
            target.compile(model, config.train, loop["labels"], loop["n_classes"], steps)

    def metrics_of(logs: dict) -> dict[str, float]:
        metrics = {key: float(value) for key, value in logs.items()}
        if rank == 0:  # only rank 0's metrics are logged: the others skip the validation pass
            metrics |= validation_metrics(model, loop, target)
        return metrics

    report = data_parallel.epoch_reporter(model, facts, steps, metrics_of)
    model.fit(
        batches, epochs=config.train.epochs, initial_epoch=done, steps_per_epoch=steps, verbose=0, callbacks=[report]
    )


def validation_metrics(model: keras.Model, loop: dict, target) -> dict[str, float]:
    """The validation part's loss and the target's validation metric (and top-2 accuracy for classes),
    from the net called directly: no collective step, so one worker can run it alone."""
    images, targets, labels = loop["val_images"], loop["val_targets"], loop["val_labels"]
    chunks = range(0, len(images), EVALUATION_BATCH)
    outputs = np.concatenate([np.asarray(model(images[at : at + EVALUATION_BATCH], training=False)) for at in chunks])
    metrics = {"val_loss": float(np.mean(np.asarray(model.loss(targets, outputs))))}
    monitor = target.monitor[0]
    metrics[monitor] = target.validation(targets, labels, outputs)
    if monitor == "val_accuracy":
        top2 = np.argsort(-outputs, axis=1)[:, :2]
        metrics["val_top2"] = float((top2 == labels[:, None]).any(axis=1).mean())
    return metrics
