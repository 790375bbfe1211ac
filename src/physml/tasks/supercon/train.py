"""supercon training: one model inside the active MLflow run, and everything a person needs to judge it.

`train(config, model, data)` is what the Task contract's `train` calls; the CLI, the MLproject entry
point and tuning trials all go through it (the platform opens the runs around it).
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import mlflow
import mlflow.data
import numpy as np
import pandas as pd
from mlflow.data.sources import LocalArtifactDatasetSource
from mlflow.models import infer_signature
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from physml.data.digest import frame_digest
from physml.data.splits import carve, split_three
from physml.evaluation import explain, plots
from physml.evaluation.conformal import ConformalInterval, calibrate, interval_metrics
from physml.evaluation.metrics import regression_metrics, stratified_metrics
from physml.models.callbacks import as_hook_list
from physml.tasks.base import RunResult
from physml.tasks.composition.models import MODELS, members_of_model, requirements_of
from physml.tasks.composition.out_of_fold import members_of, validation_predictions
from physml.tasks.supercon.config import SuperconConfig
from physml.tasks.supercon.data import SuperconData, families, tc_ranges
from physml.tasks.supercon.model import SuperconModel, save_parts
from physml.tracking.epochs import EpochMetricLog
from physml.tracking.models import log_task_model
from physml.tracking.runs import log_dataset_input, log_figure

SERVED = Path(__file__).with_name("served.py")  # the model's loading code (MLflow's models from code)
TC = {"label": "Tc", "unit": "K"}


@dataclass
class SplitData:
    """The training part (what models fit), the validation part (what the net validates on and
    searches and promotion decide on), the calibration part (carved out of the validation part under
    the same policy: only the conformal intervals are fitted on it) and the test part (reported only)."""

    X_train: pd.DataFrame
    X_val: pd.DataFrame
    X_cal: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series
    y_val: pd.Series
    y_cal: pd.Series
    y_test: pd.Series
    test_compositions: pd.DataFrame  # element amounts of the test rows (their family)
    # of the test, validation and calibration rows: runs with the same digest were judged on the same rows
    split_digest: str
    policy: str  # random | grouped: how the parts were cut (and cross-fitting's folds are)
    fit_groups: np.ndarray | None  # grouped: the composition id of each training row, then each validation row

    @property
    def validation_rows(self) -> slice:
        """Where the validation part's rows sit when the training and validation parts are stacked."""
        return slice(len(self.X_train), len(self.X_train) + len(self.X_val))


def make_split(config: SuperconConfig, data: SuperconData) -> SplitData:
    features = data.select(config.data.feature_set)
    settings = config.data
    if settings.split == "family":  # out of distribution: the held-out family is the whole test part
        groups, kind = data.composition_groups(), "grouped"
        family = np.asarray(families(data.compositions))
        test_idx = np.flatnonzero(family == settings.holdout_family)
        train_idx, val_idx = carve(
            np.flatnonzero(family != settings.holdout_family), kind, settings.val_fraction, config.seed, groups
        )
    else:
        groups = data.composition_groups() if settings.split == "grouped" else None
        kind = settings.split
        train_idx, val_idx, test_idx = split_three(
            len(features), kind, settings.test_fraction, settings.val_fraction, config.seed, groups
        )
    val_idx, cal_idx = carve(val_idx, kind, settings.calibration_fraction, config.seed, groups)
    digest = hashlib.sha256(b"|".join(index.astype(np.int64).tobytes() for index in (test_idx, val_idx, cal_idx)))

    def rows(frame, index):
        return frame.iloc[index].reset_index(drop=True)

    return SplitData(
        X_train=rows(features, train_idx),
        X_val=rows(features, val_idx),
        X_cal=rows(features, cal_idx),
        X_test=rows(features, test_idx),
        y_train=rows(data.tc, train_idx),
        y_val=rows(data.tc, val_idx),
        y_cal=rows(data.tc, cal_idx),
        y_test=rows(data.tc, test_idx),
        test_compositions=rows(data.compositions, test_idx),
        split_digest=digest.hexdigest()[:16],
        policy=kind,
        fit_groups=None if groups is None else np.concatenate([groups[train_idx], groups[val_idx]]),
    )


def build_pipeline(config: SuperconConfig, model: str) -> Pipeline:
    """Scaler (fitted on the training part only) + regressor: one object, saved as one model."""
    return Pipeline([("scaler", StandardScaler()), ("regressor", MODELS[model].build(config))])


def log_run_inputs(config: SuperconConfig, model: str, data: SuperconData, split: SplitData) -> None:
    params = {
        "model": model,
        "feature_set": config.data.feature_set,
        "split": config.data.split,
        **({"holdout_family": config.data.holdout_family} if config.data.split == "family" else {}),
        "test_fraction": config.data.test_fraction,
        "val_fraction": config.data.val_fraction,
        "calibration_fraction": config.data.calibration_fraction,
        "interval_level": config.evaluation.interval_level,
        "conformity_score": config.evaluation.conformity_score,
        "seed": config.seed,
        "preset": config.preset or "none",
        "n_features": split.X_train.shape[1],
        "n_train": len(split.X_train),
        "n_val": len(split.X_val),
        "n_calibration": len(split.X_cal),
        "n_test": len(split.X_test),
        "split_digest": split.split_digest,
    }
    params.update(config.model_params(model))
    if members := members_of_model(config, model):  # each member's settings, under its name
        params["members"] = ",".join(params.pop("members"))
        for member in members:
            params.update({f"{member}.{key}": value for key, value in config.model_params(member).items()})
    mlflow.log_params(params)
    log_dataset_input(mlflow_dataset(data), "training")


_DATASETS: dict[tuple, object] = {}


def mlflow_dataset(data: SuperconData):
    """The MLflow dataset of `data`, built once per loaded table: MLflow infers its schema cell by
    cell (~4 s for 21,263 x 82), which `--model all` and tuning trials would otherwise repeat."""
    # keyed on the table's content (30 ms), not on the frame object: `data.frame` is built anew on each
    # access, and a trial's data is a fresh copy from Ray's object store (in a worker whose working
    # folder is not the driver's, so the files' relative paths do not resolve there)
    digest = frame_digest(data.frame)
    key = (str(data.train_path), digest)
    if key not in _DATASETS:
        _DATASETS.clear()  # one table at a time; a new load replaces it
        _DATASETS[key] = mlflow.data.from_pandas(
            data.frame,
            source=LocalArtifactDatasetSource(str(data.train_path.resolve())),
            name="uci-superconductivity",
            targets="critical_temp",
            digest=digest,  # every row (MLflow's digest reads the first 10,000)
        )
    return _DATASETS[key]


def last_step(model: str, regressor) -> int:
    """The step of the fit's last boosting round (one gbm); 0 for a one-shot or cross-fitted fit."""
    return int(regressor.get_booster().num_boosted_rounds()) if hasattr(regressor, "get_booster") else 0


def log_evaluation(model: str, pipeline: Pipeline, split: SplitData, config: SuperconConfig) -> dict[str, float]:
    predictions = pipeline.predict(split.X_test)
    metrics = regression_metrics(split.y_test, predictions, "test_", config.evaluation.bootstrap_resamples, config.seed)
    train_predictions = pipeline.predict(split.X_train)
    metrics.update(regression_metrics(split.y_train, train_predictions, "train_", 0))
    validation = regression_metrics(split.y_val, predict_validation(pipeline, split), "val_", 0)
    mlflow.log_metrics(metrics)
    # The latest val_rmse must be the final model's. The net's last epoch logged it (the same part and
    # weights); the boosted model predicts with its best round when early stopping ended it, so its
    # value goes at the last round's step, after that round's own.
    if MODELS[model].logs_final_validation:
        logged = {key: value for key, value in validation.items() if key != "val_rmse"}
        mlflow.log_metrics(logged)
    else:
        mlflow.log_metrics(validation, step=last_step(model, pipeline.named_steps["regressor"]))
    metrics.update(validation)

    if config.evaluation.plots:
        title = f"{model}: R² {metrics['test_r2']:.3f}, RMSE {metrics['test_rmse']:.1f} K ({config.data.split} split)"
        log_figure(plots.predicted_vs_true(split.y_test, predictions, title, **TC), "plots/predicted_vs_true.png")
        log_figure(plots.cumulative_abs_error(split.y_test, predictions, title, **TC), "plots/cumulative_abs_error.png")
        log_figure(plots.residual_vs_true(split.y_test, predictions, title, **TC), "plots/residual_vs_true.png")
    errors = pd.DataFrame({"true_tc": split.y_test, "predicted_tc": predictions})
    mlflow.log_table(errors, "predictions/test_predictions.json")
    return metrics


def predict_validation(pipeline: Pipeline, split: SplitData) -> np.ndarray:
    """Tc on the validation part, each row from a model that did not fit it (crossfit.py)."""
    scaled = pipeline.named_steps["scaler"].transform(split.X_val)
    return validation_predictions(pipeline.named_steps["regressor"], scaled)


def log_shap(model: str, pipeline: Pipeline, split: SplitData, config: SuperconConfig) -> pd.Series:
    scaler = pipeline.named_steps["scaler"]
    names = list(split.X_train.columns)
    rng = np.random.default_rng(config.seed)

    def scaled_sample(frame: pd.DataFrame, n: int) -> pd.DataFrame:
        rows = rng.choice(len(frame), size=min(n, len(frame)), replace=False)
        return pd.DataFrame(scaler.transform(frame.iloc[rows]), columns=names)

    background = scaled_sample(split.X_train, config.evaluation.shap_background)
    sample = scaled_sample(split.X_test, config.evaluation.shap_samples)
    regressor = pipeline.named_steps["regressor"]
    members = getattr(regressor, "members_", None)  # cross-fitted: the mean of its members' explanations
    explanation = (
        explain.mean_explanation(
            [
                explain.shap_values(MODELS[model].explainer, member, background, sample, config.seed)
                for member in members
            ]
        )
        if members
        else explain.shap_values(MODELS[model].explainer, regressor, background, sample, config.seed)
    )
    title = f"{model}: SHAP ({MODELS[model].explainer}, standard-scaled features)"
    log_figure(explain.beeswarm(explanation, title=title), "shap/beeswarm.png")
    log_figure(explain.bar(explanation, title=title), "shap/bar.png")
    importance = explain.mean_abs_shap(explanation)
    mlflow.log_table(importance.rename_axis("feature").reset_index(name="mean_abs_shap"), "shap/importance.json")
    mlflow.set_tag("shap_explainer", MODELS[model].explainer)
    return importance


def log_intervals(
    model: str, pipeline: Pipeline, split: SplitData, config: SuperconConfig, metrics: dict[str, float]
) -> ConformalInterval:
    """Split-conformal intervals (MAPIE) calibrated on the calibration part; their coverage and mean
    width on the test part (and the validation part) are logged beside the other metrics."""
    evaluation = config.evaluation
    interval = calibrate(
        pipeline, split.X_cal, split.y_cal, evaluation.interval_level, evaluation.conformity_score, 0.0
    )
    test_predictions = pipeline.predict(split.X_test)
    low, high = interval.bounds(test_predictions)
    values = {"interval_half_width": interval.half_width, **interval_metrics(split.y_test, low, high, "test_")}
    values.update(interval_metrics(split.y_val, *interval.bounds(predict_validation(pipeline, split)), "val_"))
    mlflow.log_metrics(values)
    metrics.update(values)
    level = f"{interval.level:.0%}"
    title = f"{model}: {level} conformal intervals, test coverage {values['test_interval_coverage']:.1%}"
    log_strata(split, test_predictions, low, high)
    if config.evaluation.plots:
        figure = plots.prediction_intervals(split.y_test, test_predictions, low, high, title, **TC)
        log_figure(figure, "plots/prediction_intervals.png")
    return interval


def log_strata(split: SplitData, predictions, low, high) -> None:
    """Test metrics by Tc range (below 10 K, 10-77 K, 77 K and above) and by family (cuprates,
    iron-based, the rest): RMSE, MAE, interval coverage and width, as metrics
    (`test_by_tc/10-77K/rmse`, `test_by_family/cuprate/coverage`) and one table."""
    tables = []
    for name, strata in (("tc", tc_ranges(split.y_test)), ("family", families(split.test_compositions))):
        table = stratified_metrics(split.y_test, predictions, low, high, strata)
        for row in table.itertuples(index=False):
            values = {key: getattr(row, key) for key in ("n", "rmse", "mae", "coverage", "mean_width")}
            mlflow.log_metrics({f"test_by_{name}/{row.stratum}/{key}": value for key, value in values.items()})
        tables.append(table.assign(by=name))
    mlflow.log_table(pd.concat(tables, ignore_index=True), "metrics/test_by_stratum.json")


def log_model(
    model: str,
    pipeline: Pipeline,
    split: SplitData,
    config: SuperconConfig,
    result: RunResult,
    interval: ConformalInterval | None = None,
    register: bool = True,
) -> None:
    """The fitted Pipeline as supercon's pyfunc model (its parts in code-free formats, model.py),
    with its conformal interval, registered as `registry.names[model]`."""
    example = split.X_test.head(5)
    registered = config.registry.names.get(model) if config.registry.register and register else None
    with tempfile.TemporaryDirectory() as tmp:
        artifacts = save_parts(pipeline, Path(tmp), interval.as_dict() if interval else None)
        # the signature is the served model's own output on the example (Tc and its interval)
        signature = infer_signature(example, SuperconModel.loaded(artifacts).predict(None, example))
        requirements = requirements_of(config, model)
        log_task_model(SERVED, result, registered, requirements, signature, input_example=example, artifacts=artifacts)


def fit_pipeline(config: SuperconConfig, model: str, pipeline: Pipeline, split: SplitData, hooks, checkpoints) -> None:
    """The scaler on the training part, then the regressor on the scaled part as the model table says
    (composition/models.py): the net and the boosted model validate on the validation part (scaled the
    same way), report to `hooks` and checkpoint."""
    scaler, regressor = pipeline.named_steps["scaler"], pipeline.named_steps["regressor"]
    X, y = scaler.fit(split.X_train).transform(split.X_train), split.y_train.to_numpy()
    validation = (scaler.transform(split.X_val), split.y_val.to_numpy())
    MODELS[model].fit(config, regressor, X, y, validation, hooks, checkpoints, split)


def log_training_curves(config: SuperconConfig, model: str, regressor, artifact: str = "plots/training_curves.png"):
    """The model's training curve; a stack's members' curves, one figure each."""
    if members_of_model(config, model):
        for member, estimator in members_of(regressor):
            log_training_curves(config, member, estimator, f"plots/training_curves_{member}.png")
    elif curve := MODELS[model].curve:
        log_figure(curve(config, regressor, TC["unit"]), artifact)


def train(config: SuperconConfig, model: str, data: SuperconData, on_epoch_end=None, checkpoints=None) -> RunResult:
    """Train and evaluate one model inside the active MLflow run; log params, metrics, plots, SHAP, model.
    The dense net (each epoch) and the boosted model (every gbm.report_every rounds) save their state
    to `checkpoints` (a tuning trial's) and continue from one."""
    result = RunResult(model=model, run_id=mlflow.active_run().info.run_id)
    split = make_split(config, data)
    log_run_inputs(config, model, data, split)

    pipeline = build_pipeline(config, model)
    started = time.perf_counter()
    with EpochMetricLog() as log_epoch:  # per-epoch (per-round) metrics, batched (tracking/epochs.py)
        fit_pipeline(config, model, pipeline, split, [log_epoch, *as_hook_list(on_epoch_end)], checkpoints)
    mlflow.log_metric("fit_seconds", time.perf_counter() - started)
    if config.evaluation.plots:
        log_training_curves(config, model, pipeline.named_steps["regressor"])

    result.metrics = log_evaluation(model, pipeline, split, config)
    if members_of_model(config, model):
        log_member_tests(pipeline, split)
    interval = log_intervals(model, pipeline, split, config, result.metrics)
    if config.evaluation.explain:
        log_shap(model, pipeline, split, config)
    if config.registry.log_model:
        register = config.registry.register and kept(model, pipeline.named_steps["regressor"])
        log_model(model, pipeline, split, config, result, interval, register)
    return result


def log_member_tests(pipeline: Pipeline, split: SplitData) -> None:
    """Each member's test RMSE and R² beside the ensemble's (reported only: the blend never sees them)."""
    X = pipeline.named_steps["scaler"].transform(split.X_test)
    for name, member in members_of(pipeline.named_steps["regressor"]):
        metrics = regression_metrics(split.y_test, member.predict(X), "", 0)
        mlflow.log_metrics({f"member_test_{key}/{name}": metrics[key] for key in ("rmse", "r2")})


def kept(model: str, regressor) -> bool:
    """An ensemble is registered only where it beat its best member on the validation part."""
    beats = getattr(regressor, "beats_best_member_", True)
    if not beats:
        print("ensemble: not registered, as it does not beat its best member on the validation part")
    return beats
