"""The composition kind's regression run: one model inside the active MLflow run, fitted on a split's
training part, and everything a person needs to judge it (metrics with intervals, plots, strata,
conformal intervals, SHAP, the served model).

A task cuts its own split (split.py) and logs its own inputs (params, the MLflow dataset), then calls
`fit_and_log`; the kind's YAML tasks and a task with features of its own both train through it.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from physml.evaluation import explain, plots
from physml.evaluation.conformal import calibrate, interval_metrics
from physml.evaluation.metrics import regression_metrics
from physml.evaluation.stratified_conformal import (
    StratifiedInterval,
    calibrate_stratified,
    stratum_labels,
    stratum_metrics,
)
from physml.models.callbacks import as_hook_list
from physml.run_result import RunEvidence, RunResult
from physml.tasks.composition.models import MODELS, members_of_model, requirements_of
from physml.tasks.composition.out_of_fold import members_of, validation_predictions
from physml.tasks.composition.served_model import CompositionModel, save_parts
from physml.tasks.composition.split import SplitData
from physml.tasks.composition.target import Target
from physml.tracking.epochs import EpochMetricLog
from physml.tracking.models import log_task_model
from physml.tracking.runs import log_figure

SERVED = Path(__file__).with_name("served.py")  # the model's loading code (MLflow's models from code)


def common_params(config, model: str, split: SplitData) -> dict:
    """The params every composition run logs: the parts' fractions and sizes, the intervals, the seed,
    the model's settings (an ensemble's members' under their names)."""
    params = {
        "model": model,
        "test_fraction": config.data.test_fraction,
        "val_fraction": config.data.val_fraction,
        "calibration_fraction": config.data.calibration_fraction,
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
    if members := members_of_model(config, model):
        params["members"] = ",".join(params.pop("members"))
        for member in members:
            params.update({f"{member}.{key}": value for key, value in config.model_params(member).items()})
    return params


def build_pipeline(config, model: str) -> Pipeline:
    """Scaler (fitted on the training part only) + regressor: one object, saved as one model."""
    return Pipeline([("scaler", StandardScaler()), ("regressor", MODELS[model].build(config))])


def last_step(regressor) -> int:
    """The step of the fit's last boosting round (one gbm); 0 for a one-shot or cross-fitted fit."""
    return int(regressor.get_booster().num_boosted_rounds()) if hasattr(regressor, "get_booster") else 0


def log_evaluation(model: str, pipeline: Pipeline, split: SplitData, config, target: Target) -> dict[str, float]:
    predictions = pipeline.predict(split.X_test)
    metrics = regression_metrics(split.y_test, predictions, "test_", config.evaluation.bootstrap_resamples, config.seed)
    metrics.update(regression_metrics(split.y_train, pipeline.predict(split.X_train), "train_", 0))
    validation = regression_metrics(split.y_val, predict_validation(pipeline, split), "val_", 0)
    mlflow.log_metrics(metrics)
    # The latest val_rmse must be the final model's. The net's last epoch logged it (the same part and
    # weights); the boosted model predicts with its best round when early stopping ended it, so its
    # value goes at the last round's step, after that round's own.
    if MODELS[model].logs_final_validation:
        mlflow.log_metrics({key: value for key, value in validation.items() if key != "val_rmse"})
    else:
        mlflow.log_metrics(validation, step=last_step(pipeline.named_steps["regressor"]))
    metrics.update(validation)

    if config.evaluation.plots:
        unit = f" {target.unit}" if target.unit else ""
        title = f"{model}: R² {metrics['test_r2']:.3f}, RMSE {metrics['test_rmse']:.3g}{unit} ({split.name})"
        for name in ("predicted_vs_true", "cumulative_abs_error", "residual_vs_true"):
            figure = getattr(plots, name)(split.y_test, predictions, title, **target.axis)
            log_figure(figure, f"plots/{name}.png")
    label = target.label.lower()
    errors = pd.DataFrame({f"true_{label}": split.y_test, f"predicted_{label}": predictions})
    mlflow.log_table(errors, "predictions/test_predictions.json")
    return metrics


def predict_validation(pipeline: Pipeline, split: SplitData) -> np.ndarray:
    """The validation part's predictions, each row from a model that did not fit it (crossfit.py)."""
    scaled = pipeline.named_steps["scaler"].transform(split.X_val)
    return validation_predictions(pipeline.named_steps["regressor"], scaled)


def log_shap(model: str, estimator, scaler, split: SplitData, config) -> pd.Series:
    """SHAP of the fitted model on a sample of test rows (standard-scaled features), as figures and a table."""
    names = list(split.X_train.columns)
    rng = np.random.default_rng(config.seed)

    def scaled_sample(frame: pd.DataFrame, n: int) -> pd.DataFrame:
        rows = rng.choice(len(frame), size=min(n, len(frame)), replace=False)
        return pd.DataFrame(scaler.transform(frame.iloc[rows]), columns=names)

    background = scaled_sample(split.X_train, config.evaluation.shap_background)
    sample = scaled_sample(split.X_test, config.evaluation.shap_samples)
    explainer = MODELS[model].explainer
    members = getattr(estimator, "members_", None)  # cross-fitted: the mean of its members' explanations
    explanation = (
        explain.mean_explanation(
            [explain.shap_values(explainer, member, background, sample, config.seed) for member in members]
        )
        if members
        else explain.shap_values(explainer, estimator, background, sample, config.seed)
    )
    title = f"{model}: SHAP ({explainer}, standard-scaled features)"
    log_figure(explain.beeswarm(explanation, title=title), "shap/beeswarm.png")
    log_figure(explain.bar(explanation, title=title), "shap/bar.png")
    importance = explain.mean_abs_shap(explanation)
    mlflow.log_table(importance.rename_axis("feature").reset_index(name="mean_abs_shap"), "shap/importance.json")
    mlflow.set_tag("shap_explainer", explainer)
    return importance


def nonzero_probability(pipeline: Pipeline, X: pd.DataFrame) -> np.ndarray | None:
    """A hurdle model's probability of a non-zero target on X (what its intervals are stratified by); None
    for any other model."""
    regressor = pipeline.named_steps["regressor"]
    if not hasattr(regressor, "nonzero_probability"):
        return None
    return regressor.nonzero_probability(pipeline.named_steps["scaler"].transform(X))


def calibrate_interval(pipeline: Pipeline, split: SplitData, config):
    """Split-conformal intervals (MAPIE) calibrated on the calibration part; a hurdle model's stratified
    by its P(non-zero) (stratified_conformal.py), its quantile from the calibration part and, where it
    was cross-fitted, its strata's scales from the training part's out-of-fold predictions."""
    evaluation = config.evaluation
    regressor = pipeline.named_steps["regressor"]
    if not hasattr(regressor, "nonzero_probability"):
        return calibrate(
            pipeline, split.X_cal, split.y_cal, evaluation.interval_level, evaluation.conformity_score, 0.0
        )
    edges = sorted({0.1, 0.3, regressor.threshold, 0.9})
    floor = 0.0 if regressor.lower_ == 0.0 else None
    calibration = (split.y_cal.to_numpy(), pipeline.predict(split.X_cal), nonzero_probability(pipeline, split.X_cal))
    scaled_by = None
    if hasattr(regressor, "oof_"):  # cross-fitted: the strata's scales from the training part's out-of-fold rows
        train = slice(0, len(split.X_train))
        scaled_by = (split.y_train.to_numpy(), regressor.oof_[train], regressor.oof_probability_[train])
    return calibrate_stratified(*calibration, edges, evaluation.interval_level, floor, scaled_by)


def validation_probability(pipeline: Pipeline, split: SplitData) -> np.ndarray | None:
    """A hurdle's P(non-zero) on the validation part, out of fold where it was cross-fitted."""
    regressor = pipeline.named_steps["regressor"]
    if hasattr(regressor, "oof_probability_"):
        return regressor.oof_probability_[split.validation_rows]
    return nonzero_probability(pipeline, split.X_val)


def log_intervals(model: str, pipeline: Pipeline, split: SplitData, config, metrics: dict[str, float], target: Target):
    """The conformal intervals (calibrate_interval); their coverage and mean width on the test part (and
    the validation part) are logged beside the other metrics."""
    interval = calibrate_interval(pipeline, split, config)
    test_predictions = pipeline.predict(split.X_test)
    test_by, val_by = nonzero_probability(pipeline, split.X_test), validation_probability(pipeline, split)
    low, high = interval.bounds(test_predictions, test_by)
    values = {"interval_half_width": interval.half_width, **interval_metrics(split.y_test, low, high, "test_")}
    validation = interval.bounds(predict_validation(pipeline, split), val_by)
    values.update(interval_metrics(split.y_val, *validation, "val_"))
    if isinstance(interval, StratifiedInterval):
        values |= stratum_metrics(interval, split.y_test, low, high, test_by, "test_")
        values |= stratum_metrics(interval, split.y_val, *validation, val_by, "val_")
    mlflow.log_metrics(values)
    metrics.update(values)
    if config.evaluation.plots:
        level = f"{interval.level:.0%}"
        title = f"{model}: {level} conformal intervals, test coverage {values['test_interval_coverage']:.1%}"
        figure = plots.prediction_intervals(split.y_test, test_predictions, low, high, title, **target.axis)
        log_figure(figure, "plots/prediction_intervals.png")
    return interval


def declared_evidence(pipeline: Pipeline, split: SplitData, interval, config, target: Target) -> RunEvidence:
    """The run's parts as the platform's evidence reads them (tracking/evidence.py): each part's truth
    and predictions (the validation part's from models that did not fit it), features, group key,
    ids and strata; the test part's intervals."""
    predicted = {
        "train": pipeline.predict(split.X_train),
        "val": predict_validation(pipeline, split),
        "cal": pipeline.predict(split.X_cal),
        "test": pipeline.predict(split.X_test),
    }
    parts = {name: split.evidence_part(name, values) for name, values in predicted.items()}
    parts["test"].low, parts["test"].high = interval.bounds(
        predicted["test"], nonzero_probability(pipeline, split.X_test)
    )
    grouped = split.policy == "grouped"
    return RunEvidence(
        "regression",
        split.name,
        grouped,
        parts,
        target.unit,
        seed=config.seed,
        resamples=config.evaluation.bootstrap_resamples,
    )


def served_example(split: SplitData, target: Target) -> pd.DataFrame:
    """What the served model takes, five test rows of it: raw formulas, or the feature columns."""
    if target.formula_column and split.test_formulas is not None:
        return pd.DataFrame({target.formula_column: split.test_formulas.head(5).astype(str).to_numpy()})
    return split.X_test.head(5)


def log_model(
    model: str, pipeline: Pipeline, split: SplitData, config, result: RunResult, served: dict, target: Target
) -> None:
    """The fitted Pipeline as the kind's pyfunc model (its parts in code-free formats, served_model.py),
    registered as `registry.names[model]` unless `config.registry.register` is off or it is an
    ensemble that does not beat its best member."""
    example = served_example(split, target)
    register = config.registry.register and kept(pipeline.steps[1][1])
    registered = config.registry.names.get(model) if register else None
    served = {"output": target.label, "formula_column": target.formula_column, **served}
    with tempfile.TemporaryDirectory() as tmp:
        artifacts = save_parts(pipeline, Path(tmp), served)
        # the signature is the served model's own output on the example
        signature = infer_signature(example, CompositionModel.loaded(artifacts).predict(None, example))
        requirements = requirements_of(config, model)
        log_task_model(SERVED, result, registered, requirements, signature, input_example=example, artifacts=artifacts)


def fit_pipeline(config, model: str, pipeline: Pipeline, split: SplitData, hooks, checkpoints) -> None:
    """The scaler on the training part, then the estimator on the scaled part as the model table says
    (models.py): the net and the boosted model validate on the validation part (scaled the same way),
    report to `hooks` and checkpoint."""
    check_workers(config, model)
    scaler, estimator = pipeline.steps[0][1], pipeline.steps[1][1]
    X, y = scaler.fit(split.X_train).transform(split.X_train), split.y_train.to_numpy()
    validation = (scaler.transform(split.X_val), split.y_val.to_numpy())
    MODELS[model].fit(config, estimator, X, y, validation, hooks, checkpoints, split)


def check_workers(config, model: str) -> None:
    """Only the dense net trains across Ray Train workers (dnn.workers, --workers): refuse any other model."""
    from physml.errors import ConfigError

    workers = getattr(getattr(config, "dnn", None), "workers", 0)
    if workers >= 1 and "dnn" not in [model, *members_of_model(config, model)]:
        raise ConfigError(
            f"--workers {workers}: only the dense net (dnn) trains across workers; {model} trains in one process "
            "(use --model dnn, or drop --workers)"
        )


def log_training_curves(config, model: str, regressor, unit: str, artifact: str = "plots/training_curves.png"):
    """The model's training curve; a stack's members' curves, one figure each."""
    if members_of_model(config, model):
        for member, estimator in members_of(regressor):
            log_training_curves(config, member, estimator, unit, f"plots/training_curves_{member}.png")
    elif curve := MODELS[model].curve:
        log_figure(curve(config, regressor, unit), artifact)


def fit_timed(config, model: str, pipeline: Pipeline, split: SplitData, on_epoch_end, checkpoints) -> None:
    """Fit with per-epoch (per-round) metrics batched (tracking/epochs.py) and the fit's seconds logged."""
    started = time.perf_counter()
    with EpochMetricLog() as log_epoch:
        fit_pipeline(config, model, pipeline, split, [log_epoch, *as_hook_list(on_epoch_end)], checkpoints)
    mlflow.log_metric("fit_seconds", time.perf_counter() - started)


def fit_and_log(config, model: str, split: SplitData, target: Target, on_epoch_end=None, checkpoints=None) -> RunResult:
    """Train and evaluate one model inside the active MLflow run (whose inputs the task logged): the
    fit, metrics, plots, strata, conformal intervals, SHAP and the model. The dense net (each epoch)
    and the boosted model (every gbm.report_every rounds) save their state to `checkpoints` (a tuning
    trial's) and continue from one."""
    result = RunResult(model=model, run_id=mlflow.active_run().info.run_id)
    pipeline = build_pipeline(config, model)
    fit_timed(config, model, pipeline, split, on_epoch_end, checkpoints)
    regressor = pipeline.named_steps["regressor"]
    if config.evaluation.plots:
        log_training_curves(config, model, regressor, target.unit)

    result.metrics = log_evaluation(model, pipeline, split, config, target)
    if members_of_model(config, model):
        log_member_tests(pipeline, split)
    interval = log_intervals(model, pipeline, split, config, result.metrics, target)
    result.predictions = test_predictions(pipeline, split, interval)
    result.evidence = declared_evidence(pipeline, split, interval, config, target)
    if config.evaluation.explain:
        log_shap(model, regressor, pipeline.named_steps["scaler"], split, config)
    if config.registry.log_model:
        log_model(model, pipeline, split, config, result, {"interval": interval.as_dict()}, target)
    return result


def test_predictions(pipeline: Pipeline, split: SplitData, interval) -> pd.DataFrame:
    """The test part's predictions and interval bounds; under a stratified interval, each row's stratum."""
    predicted, by = pipeline.predict(split.X_test), nonzero_probability(pipeline, split.X_test)
    low, high = interval.bounds(predicted, by)
    frame = pd.DataFrame({"prediction": predicted, "low": low, "high": high})
    if isinstance(interval, StratifiedInterval):
        frame["interval_stratum"] = np.asarray(stratum_labels(interval.edges))[interval.strata(by)]
    return frame


def log_member_tests(pipeline: Pipeline, split: SplitData) -> None:
    """Each member's test RMSE and R² beside the ensemble's (reported only: the blend never sees them)."""
    X = pipeline.named_steps["scaler"].transform(split.X_test)
    for name, member in members_of(pipeline.named_steps["regressor"]):
        metrics = regression_metrics(split.y_test, member.predict(X), "", 0)
        mlflow.log_metrics({f"member_test_{key}/{name}": metrics[key] for key in ("rmse", "r2")})


def kept(regressor) -> bool:
    """An ensemble is registered only where it beat its best member on the validation part."""
    beats = getattr(regressor, "beats_best_member_", True)
    if not beats:
        print("ensemble: not registered, as it does not beat its best member on the validation part")
    return beats
