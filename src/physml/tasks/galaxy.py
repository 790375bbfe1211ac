"""galaxy: classify Galaxy Zoo images into morphology classes derived from the GZ2 decision tree.

`train(config, data)` trains and evaluates the CNN inside the active MLflow run and logs what a
person needs to judge it; `run(config, data_dir)` loads and validates the data and opens the run.
The CLI, the MLproject entry point and tuning trials all go through these.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import mlflow
import mlflow.data
import mlflow.keras
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.data.sources import LocalArtifactDatasetSource
from mlflow.models import infer_signature
from sklearn.model_selection import train_test_split

from physml.config.galaxy import GalaxyConfig
from physml.data.galaxy import GalaxyCatalogue, load_galaxy_zoo
from physml.data.gz2_tree import GZ2, MORPHOLOGY, OTHER
from physml.data.images import decoded_images, evaluation_dataset, training_dataset
from physml.errors import TrainingDiverged
from physml.evaluation import plots
from physml.models.callbacks import EpochReporter, as_hook_list
from physml.models.cnn import (
    build_cnn,
    compile_classifier,
    compile_regressor,
    focal_alpha,
)
from physml.tasks.galaxy_report import log_classification_report
from physml.tracking.epochs import EpochMetricLog
from physml.tracking.registry import mark_new_version
from physml.tracking.runs import (
    log_dataset_input,
    log_figure,
    pinned,
    standard_tags,
    task_run,
)

TASK = "galaxy"
REQUIREMENTS = ("mlflow", "keras", "tensorflow-cpu", "numpy", "pandas")


@dataclass
class GalaxySet:
    """Validated galaxies with their decoded 70x70 images, labels and a seeded stratified split."""

    ids: np.ndarray
    images: np.ndarray  # (N, size, size, 3) uint8
    labels: np.ndarray  # class index per galaxy (for regression: the 5-class label, for stratifying and reports)
    targets: np.ndarray  # one-hot classes, or the 37 vote fractions
    class_names: list[str]
    split: dict[str, np.ndarray]  # train / val / test row indices
    catalogue: GalaxyCatalogue


@dataclass
class GalaxyResult:
    run_id: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    registered_name: str | None = None
    registered_version: str | None = None
    diverged: bool = False


def morphology_labels(votes: pd.DataFrame, target: str) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(labels, class names, kept rows). classes4 drops galaxies whose most probable class is 'other'."""
    probs = GZ2.class_probabilities(votes, include_other=True)
    names = list(MORPHOLOGY) + [OTHER]
    labels = probs.to_numpy().argmax(axis=1)
    if target == "classes4":
        keep = labels != names.index(OTHER)
        return labels[keep], names[:-1], keep
    return labels, names, np.ones(len(labels), dtype=bool)


def stratified_split(labels: np.ndarray, val: float, test: float, seed: int) -> dict[str, np.ndarray]:
    rows = np.arange(len(labels))
    rest, test_rows = train_test_split(rows, test_size=test, stratify=labels, random_state=seed)
    train_rows, val_rows = train_test_split(rest, test_size=val / (1 - test), stratify=labels[rest], random_state=seed)
    return {"train": np.sort(train_rows), "val": np.sort(val_rows), "test": np.sort(test_rows)}


def prepare(config: GalaxyConfig, catalogue: GalaxyCatalogue, progress: bool = True) -> GalaxySet:
    labels, names, keep = morphology_labels(catalogue.votes, config.data.target)
    votes = catalogue.votes[keep]
    if config.data.target == "regression":
        targets = votes[GZ2.columns].to_numpy(dtype="float32")
    else:
        targets = np.eye(len(names), dtype="float32")[labels]
    images = decoded_images(list(catalogue.image_paths[keep]), config.data.crop, config.data.size, progress=progress)
    split = stratified_split(labels, config.data.val_fraction, config.data.test_fraction, config.seed)
    return GalaxySet(votes.index.to_numpy(), images, labels, targets, names, split, catalogue)


def log_inputs(config: GalaxyConfig, data: GalaxySet) -> None:
    params = {"target": config.data.target, "seed": config.seed, "preset": config.preset or "none",
              "n_train": len(data.split["train"]), "n_val": len(data.split["val"]), "n_test": len(data.split["test"]),
              "classes": ",".join(data.class_names)}  # fmt: skip
    for section in ("data", "model", "train"):
        params.update({f"{section}.{k}": v for k, v in dataclasses.asdict(getattr(config, section)).items()})
    mlflow.log_params(params)
    frame = data.catalogue.votes.reset_index()
    dataset = mlflow.data.from_pandas(
        frame, source=LocalArtifactDatasetSource(str(data.catalogue.labels_path.resolve())), name="galaxy-zoo-training"
    )
    log_dataset_input(dataset, "training")
    mlflow.log_metric("skipped_images", len(data.catalogue.skipped_images))
    if data.catalogue.skipped_images:
        mlflow.log_text("\n".join(data.catalogue.skipped_images) + "\n", "data/skipped_images.txt")
    counts = pd.Series(np.bincount(data.labels, minlength=len(data.class_names)), index=data.class_names)
    mlflow.log_dict(counts.to_dict(), "data/class_counts.json")
    log_figure(plots_class_counts(counts, config), "data/class_counts.png")


def plots_class_counts(counts: pd.Series, config: GalaxyConfig):
    from physml.evaluation.classification import class_counts_figure

    return class_counts_figure(counts, f"labels from the GZ2 tree ({config.data.target}, {counts.sum()} galaxies)")


def fit(config: GalaxyConfig, data: GalaxySet, checkpoint: Path, on_epoch_end=None) -> tuple[keras.Model, dict]:
    """Train; keep the checkpoint with the best validation metric and return that model."""
    keras.utils.set_random_seed(config.seed)
    regression = config.data.target == "regression"
    train_rows, val_rows = data.split["train"], data.split["val"]
    model = build_cnn(config.data.input_size, data.targets.shape[1], config.model,
                      "sigmoid" if regression else "softmax")  # fmt: skip
    if regression:
        compile_regressor(model, config.train.learning_rate)
        monitor, mode = "val_rmse", "min"
    else:
        alpha = focal_alpha(data.labels[train_rows], len(data.class_names), config.train.class_weighted)
        mlflow.log_param("focal_alpha", ",".join(f"{a:.3f}" for a in alpha))
        compile_classifier(model, config.train.learning_rate, alpha, config.train.focal_gamma)
        monitor, mode = "val_accuracy", "max"
    train_ds = training_dataset(data.images[train_rows], data.targets[train_rows], config.train.batch_size,
                                config.data.input_size, config.seed)  # fmt: skip
    val_ds = evaluation_dataset(data.images[val_rows], data.targets[val_rows], 256, config.data.input_size)
    best = keras.callbacks.ModelCheckpoint(str(checkpoint), monitor=monitor, mode=mode, save_best_only=True)
    started = time.perf_counter()
    with EpochMetricLog() as log_epoch:  # per-epoch metrics, batched (tracking/epochs.py)
        reporter = EpochReporter(config.train.epochs, [log_epoch, *as_hook_list(on_epoch_end)],
                                 description="cnn epochs", shown=("accuracy", "val_accuracy", "val_rmse"))  # fmt: skip
        model.fit(train_ds, validation_data=val_ds, epochs=config.train.epochs, callbacks=[reporter, best], verbose=0,
                  shuffle=False)  # the training dataset shuffles itself
    seconds = time.perf_counter() - started
    history = reporter.history
    scores = np.asarray(history[monitor])
    best_epoch = int(np.argmax(scores) if mode == "max" else np.argmin(scores)) + 1
    mlflow.log_metrics({"fit_seconds": seconds, "train_images_per_second": len(train_rows) * config.train.epochs / seconds,
                        "best_epoch": best_epoch, f"best_{monitor}": float(scores[best_epoch - 1])})  # fmt: skip
    panels = {"loss": ("loss", "val_loss")}
    panels.update({"rmse": ("rmse", "val_rmse")} if regression else {"accuracy": ("accuracy", "val_accuracy", "top2", "val_top2")})
    log_figure(plots.history_panels(history, panels, f"best epoch {best_epoch} ({monitor})"), "plots/training_curves.png")
    return keras.models.load_model(checkpoint), history


def log_model(config: GalaxyConfig, model: keras.Model, data: GalaxySet, result: GalaxyResult) -> None:
    size = config.data.input_size
    offset = (config.data.size - size) // 2
    example = data.images[data.split["test"][:2], offset : offset + size, offset : offset + size].astype("float32")
    signature = infer_signature(example, np.asarray(model.predict(example, verbose=0)))
    name = config.registry.name if config.registry.register else None
    # No input_example: mlflow.keras.log_model (MLflow 3.17) writes it before creating the model folder
    # and fails; the signature still records the input (N, size, size, 3) float32 pixels 0-255.
    info = mlflow.keras.log_model(model, name="model", signature=signature, pip_requirements=pinned(*REQUIREMENTS),
                                  registered_model_name=name)  # fmt: skip
    if name and info.registered_model_version is not None:
        result.registered_name, result.registered_version = name, str(info.registered_model_version)
        aliases = mark_new_version(MlflowClient(), name, result.registered_version)
        mlflow.set_tag("registered_model", f"{name} v{result.registered_version} ({', '.join(aliases)})")


def train(config: GalaxyConfig, data: GalaxySet, on_epoch_end=None) -> GalaxyResult:
    """Train and evaluate the CNN inside the active MLflow run; log params, curves, diagnostics, model."""
    result = GalaxyResult(run_id=mlflow.active_run().info.run_id)
    log_inputs(config, data)
    with tempfile.TemporaryDirectory() as tmp:
        model, _ = fit(config, data, Path(tmp) / "best.keras", on_epoch_end)
    result.metrics = log_classification_report(config, model, data)
    if config.registry.log_model:
        log_model(config, model, data, result)
    return result


def run(config: GalaxyConfig, data_dir: str | Path | None = None) -> GalaxyResult:
    """Validate the data (a bad file stops here, before any run), then one MLflow run for the CNN."""
    catalogue = load_galaxy_zoo(data_dir, config.data.skip_bad_images, config.data.tree_tolerance,
                                config.data.limit or None)  # fmt: skip
    data = prepare(config, catalogue)
    run_name = f"cnn-{config.data.target}"
    try:
        with task_run(config.experiment, run_name, standard_tags(TASK, "cnn", config.preset)) as active:
            try:
                return train(config, data)
            except TrainingDiverged as exc:
                mlflow.set_tags({"diverged": "true", "diverged_epoch": str(exc.epoch)})
                raise
    except TrainingDiverged as exc:
        print(f"cnn: {exc}; run {active.info.run_id} marked FAILED with tag diverged=true")
        return GalaxyResult(run_id=active.info.run_id, diverged=True)
