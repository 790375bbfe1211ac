"""galaxy training: the CNN inside the active MLflow run, and what a person needs to judge it.

`train(config, data)` is what the Task contract's `train` calls; the CLI, the MLproject entry point
and tuning trials all go through it (the platform opens the runs around it).
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import tempfile
import time
from pathlib import Path

import keras
import mlflow
import numpy as np
import pandas as pd
import tensorflow as tf
from mlflow.models import ModelSignature, infer_signature
from mlflow.types import Schema, TensorSpec

from physml.evaluation import plots
from physml.evaluation.calibration import Calibration
from physml.models.callbacks import EpochReporter, as_hook_list, extra_state, restore_net
from physml.models.checkpoints import Checkpoints
from physml.tasks.base import RunResult
from physml.tasks.galaxy.cnn import averaged, build_cnn
from physml.tasks.galaxy.config import GalaxyConfig
from physml.tasks.galaxy.data import GalaxySet, training_input
from physml.tasks.galaxy.images import evaluation_dataset, stronger_augmentation, training_dataset
from physml.tasks.galaxy.model import network_input
from physml.tasks.galaxy.preprocess import RAW_SIZE, decode_jpeg, net_outputs
from physml.tasks.galaxy.report import log_classification_report
from physml.tasks.galaxy.targets import galaxy_target
from physml.tasks.galaxy.uncertainty import calibrate, part_images
from physml.tracking.epochs import EpochMetricLog
from physml.tracking.models import log_task_model
from physml.tracking.runs import log_dataset_input, log_figure

# what loading the model imports: MLflow's client (mlflow-skinny: the pyfunc loader, not the server),
# Keras on TensorFlow, and physml's task package (yaml); as import or distribution names, pinned() logs
# the distribution installed for each (tensorflow-cpu or tensorflow).
SERVED = Path(__file__).with_name("served.py")  # the model's loading code (MLflow's models from code)
REQUIREMENTS = ("mlflow-skinny", "numpy", "pandas", "yaml", "keras", "tensorflow")


def log_inputs(config: GalaxyConfig, data: GalaxySet) -> None:
    params = {
        "target": config.data.target,
        "seed": config.seed,
        "preset": config.preset or "none",
        "n_train": len(data.split["train"]),
        "n_val": len(data.split["val"]),
        "n_calibration": len(data.split["calibration"]),
        "calibration": config.evaluation.calibration,
        "set_level": config.evaluation.set_level,
        "set_score": config.evaluation.set_score,
        "review_rule": config.evaluation.review_rule,
        "n_test": len(data.split["test"]),
        "classes": ",".join(data.class_names),
    }
    for section in ("data", "model", "train"):
        params.update({f"{section}.{k}": v for k, v in dataclasses.asdict(getattr(config, section)).items()})
    mlflow.log_params(params)
    log_dataset_input(training_input(data), "training")  # its digest covers the pixels, not just the labels
    mlflow.log_metric("skipped_images", len(data.catalogue.skipped_images))
    if data.catalogue.skipped_images:
        mlflow.log_text("\n".join(data.catalogue.skipped_images) + "\n", "data/skipped_images.txt")
    counts = pd.Series(np.bincount(data.labels, minlength=len(data.class_names)), index=data.class_names)
    mlflow.log_dict(counts.to_dict(), "data/class_counts.json")
    log_figure(plots_class_counts(counts, config), "data/class_counts.png")


def plots_class_counts(counts: pd.Series, config: GalaxyConfig):
    from physml.evaluation.classification import class_counts_figure

    return class_counts_figure(
        counts, f"labels from the GZ2 tree ({config.data.target}, {counts.sum()} galaxies)", "galaxies"
    )


MEMBER_SEED_STEP = 1000  # member k of a seed ensemble trains from seed + 1000 k (member 1: the run's seed)


@dataclasses.dataclass(frozen=True)
class EnsembleMember:
    """Net k (from 0) of `count` trained for the run; in a seed ensemble (count > 1) its metrics are
    `member<k+1>/...` and its curves `..._member<k+1>.png`, a single net keeps the plain names."""

    index: int
    count: int

    @property
    def ensemble(self) -> bool:
        return self.count > 1

    @property
    def label(self) -> str:
        return f"member{self.index + 1}" if self.ensemble else ""

    @property
    def prefix(self) -> str:
        return f"{self.label}/" if self.ensemble else ""


def build_member(config: GalaxyConfig, data: GalaxySet, member: EnsembleMember) -> keras.Model:
    return build_cnn(
        config.data.input_size,
        data.targets.shape[1],
        config.model,
        galaxy_target(config).output(config.model.tree_output),
        name=f"galaxy_cnn_{member.label}" if member.ensemble else "galaxy_cnn",
        prefix=f"m{member.index + 1}_" if member.index else "",  # member 1's layers keep the single net's names
    )


def compile_cnn(model: keras.Model, config: GalaxyConfig, data: GalaxySet) -> tuple[str, str]:
    """Compile the net for the target; the validation metric that picks the best epoch, and its direction."""
    train_rows = data.split["train"]
    steps_per_epoch = math.ceil(len(train_rows) / config.train.batch_size)
    target = galaxy_target(config)
    mlflow.log_params(target.params(config.train, data.labels[train_rows], len(data.class_names)))
    target.compile(model, config.train, data.labels[train_rows], len(data.class_names), steps_per_epoch)
    return target.monitor


def fit_datasets(config: GalaxyConfig, data: GalaxySet, seed: int) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """The augmented training batches and the validation batches."""
    train_rows, val_rows = data.split["train"], data.split["val"]
    extra = stronger_augmentation(seed) if config.train.augmentation == "strong" else None
    train_ds = training_dataset(  # the rows picked inside the pipeline: the decoded images are not copied
        data.images,
        data.targets,
        config.train.batch_size,
        config.data.input_size,
        seed,
        rows=train_rows,
        extra=extra,
    )
    val_ds = evaluation_dataset(data.images[val_rows], data.targets[val_rows], 256, config.data.input_size)
    return train_ds, val_ds


def resume_cnn(
    model: keras.Model, config: GalaxyConfig, resumed, checkpoint: Path, best: keras.callbacks.ModelCheckpoint
) -> keras.Model:
    """The net and its optimiser as saved, this config's learning rate; the best net so far and its score."""
    # a PBT perturbation replaces a constant learning rate; a cosine schedule resumes as saved
    constant = config.train.schedule == "constant"
    model = restore_net(resumed, model, config.train.learning_rate if constant else None)
    kept = extra_state(resumed)
    if (resumed.folder / checkpoint.name).exists():
        shutil.copyfile(resumed.folder / checkpoint.name, checkpoint)
        best.best = kept["best"]
    return model


def best_so_far(checkpoint: Path, best: keras.callbacks.ModelCheckpoint):
    """What each epoch's checkpoint keeps besides the net: the best net so far and its score."""

    def keep_best(folder: Path) -> dict:
        if checkpoint.exists():
            shutil.copyfile(checkpoint, folder / checkpoint.name)
        return {"best": float(best.best)}

    return keep_best


def fit(
    config: GalaxyConfig,
    data: GalaxySet,
    checkpoint: Path,
    on_epoch_end=None,
    checkpoints: Checkpoints | None = None,
    member: int = 0,
) -> tuple[keras.Model, dict]:
    """Train; keep the checkpoint with the best validation metric and return that model. With
    `checkpoints` (a tuning trial's), each epoch's state (the net, the best one so far) is saved, and
    training continues from a saved one. Member k of a seed ensemble (train.members > 1) trains on the
    same split from its own seed, and logs its metrics and curves as `member<k+1>/...`."""
    seed = config.seed + MEMBER_SEED_STEP * member
    net = EnsembleMember(member, config.train.members)
    keras.utils.set_random_seed(seed)
    model = build_member(config, data, net)
    monitor, mode = compile_cnn(model, config, data)
    train_ds, val_ds = fit_datasets(config, data, seed)
    best = keras.callbacks.ModelCheckpoint(str(checkpoint), monitor=monitor, mode=mode, save_best_only=True)
    resumed = checkpoints.resume() if checkpoints else None
    if resumed is not None:
        model = resume_cnn(model, config, resumed, checkpoint, best)
    started = time.perf_counter()
    with EpochMetricLog() as log_epoch:  # per-epoch metrics, batched (tracking/epochs.py)
        reporter = EpochReporter(
            config.train.epochs,
            [log_epoch, *as_hook_list(on_epoch_end)] if not net.ensemble else [prefixed(log_epoch, net.prefix)],
            description=f"cnn member {net.index + 1}/{net.count} epochs" if net.ensemble else "cnn epochs",
            shown=("accuracy", "val_accuracy", "val_rmse"),
            checkpoints=checkpoints,
            extra_state=best_so_far(checkpoint, best),
            resumed=resumed,
        )
        first = min(resumed.epoch, config.train.epochs) if resumed else 0
        model.fit(
            train_ds,
            validation_data=val_ds,
            initial_epoch=first,
            epochs=config.train.epochs,
            callbacks=[best, reporter],  # the best so far is saved before the epoch checkpoint takes it
            verbose=0,
            shuffle=False,
        )  # the training dataset shuffles itself
    seconds = time.perf_counter() - started
    images = len(data.split["train"]) * (config.train.epochs - first)
    log_fit(config, net, reporter.history, (monitor, mode), seconds, images)
    return keras.models.load_model(checkpoint), reporter.history


def log_fit(
    config: GalaxyConfig, net: EnsembleMember, history: dict, monitored: tuple[str, str], seconds: float, images: int
) -> None:
    """The fit's time and speed, its best epoch and score, and its training curves, under the member's names."""
    monitor, mode = monitored
    prefix = net.prefix
    scores = np.asarray(history[monitor])
    best_epoch = int(np.argmax(scores) if mode == "max" else np.argmin(scores)) + 1
    mlflow.log_metrics(
        {
            f"{prefix}fit_seconds": seconds,
            f"{prefix}train_images_per_second": images / seconds,
            f"{prefix}best_epoch": best_epoch,
            f"{prefix}best_{monitor}": float(scores[best_epoch - 1]),
        }
    )
    panels = {"loss": ("loss", "val_loss"), **galaxy_target(config).curves}
    title = f"{net.label + ': ' if net.ensemble else ''}best epoch {best_epoch} ({monitor})"
    curves = f"plots/training_curves_{net.label}.png" if net.ensemble else "plots/training_curves.png"
    log_figure(plots.history_panels(history, panels, title), curves)


def prefixed(hook, prefix: str):
    return lambda epoch, metrics: hook(epoch, {f"{prefix}{key}": value for key, value in metrics.items()})


def fit_members(
    config: GalaxyConfig, data: GalaxySet, folder: Path, on_epoch_end=None, checkpoints: Checkpoints | None = None
) -> keras.Model:
    """The trained net, or with train.members > 1 a seed ensemble: the members trained one after another
    on the same split, averaged into one model. Its validation score is logged as the run's
    `best_val_accuracy` (`best_val_rmse`), the metric promotion decides on. Tuning trials train one net
    (the task's trial_overrides), so checkpoints and trial hooks only ever meet a single net."""
    if config.train.workers >= 1:  # one net across Ray Train workers (galaxy/workers.py); a trial's
        # hooks and checkpoints are not passed: Ray Train checkpoints the workers itself
        return fit_workers_and_log(config, data)
    if config.train.members == 1:
        return fit(config, data, folder / "best.keras", on_epoch_end, checkpoints)[0]
    started = time.perf_counter()
    nets = [fit(config, data, folder / f"member{k + 1}.keras", member=k)[0] for k in range(config.train.members)]
    model = averaged(nets)
    val_rows = data.split["val"]
    # scored on one view, as Keras scores validation during fit
    outputs = model.predict(part_images(config, data, "val"), batch_size=256, verbose=0)
    target = galaxy_target(config)
    score = target.validation(data.targets[val_rows], data.labels[val_rows], outputs)
    mlflow.log_metrics({"fit_seconds": time.perf_counter() - started, f"best_{target.monitor[0]}": score})
    return model


def fit_workers_and_log(config: GalaxyConfig, data: GalaxySet) -> keras.Model:
    """The net trained across Ray Train workers, with the one-process fit's time, speed and curves."""
    from physml.tasks.galaxy.workers import fit_on_workers

    started = time.perf_counter()
    model, history = fit_on_workers(config, data)
    monitored = galaxy_target(config).monitor
    images = len(data.split["train"]) * config.train.epochs
    log_fit(config, EnsembleMember(0, 1), history, monitored, time.perf_counter() - started, images)
    return model


def log_model(
    config: GalaxyConfig, model: keras.Model, data: GalaxySet, result: RunResult, calibration: Calibration | None
) -> None:
    """The trained net (saved as .keras) inside galaxy's pyfunc model, registered as `registry.name`. The
    model takes a JPEG's pixels as they come (its example: one test galaxy's), preprocesses them itself
    and returns the probabilities calibrated on the calibration part."""
    preprocessing = dict(
        raw_size=RAW_SIZE,
        crop=config.data.crop,
        size=config.data.size,
        input_size=config.data.input_size,
        tta=config.evaluation.tta,
    )
    galaxy = data.ids[data.split["test"][0]]
    example = decode_jpeg(tf.io.read_file(str(data.catalogue.image_paths[galaxy]))).numpy()[np.newaxis]
    outputs = net_outputs(model, network_input(example, preprocessing), config.evaluation.tta)
    # any height and width: the raw size or the evaluation crop (the model names both when refusing another)
    signature = ModelSignature(
        Schema([TensorSpec(np.dtype(np.uint8), (-1, -1, -1, 3))]), infer_signature(None, outputs).outputs
    )
    name = config.registry.name if config.registry.register else None
    with tempfile.TemporaryDirectory() as tmp:
        path, settings = Path(tmp) / "cnn.keras", Path(tmp) / "preprocessing.json"
        calibrated = Path(tmp) / "calibration.json"
        model.save(path)
        settings.write_text(json.dumps(preprocessing))
        calibrated.write_text(json.dumps(calibration.as_dict() if calibration else {"method": "none"}))
        log_task_model(
            SERVED,
            result,
            name,
            REQUIREMENTS,
            signature,
            input_example=example,
            artifacts={"keras_model": str(path), "preprocessing": str(settings), "calibration": str(calibrated)},
        )


def train(config: GalaxyConfig, data: GalaxySet, on_epoch_end=None, checkpoints=None) -> RunResult:
    """Train and evaluate the CNN inside the active MLflow run; log params, curves, diagnostics, model."""
    result = RunResult(model="cnn", run_id=mlflow.active_run().info.run_id)
    log_inputs(config, data)
    with tempfile.TemporaryDirectory() as tmp:
        model = fit_members(config, data, Path(tmp), on_epoch_end, checkpoints)
    calibration = calibrate(config, model, data)
    result.metrics, result.evidence = log_classification_report(config, model, data, calibration)
    if config.registry.log_model:
        log_model(config, model, data, result, calibration)
    return result
