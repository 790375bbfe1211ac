"""The composition kind's models as one table: how each is built and fitted, which SHAP explainer reads
it, which config key counts its epochs, what loading it imports and what its training curve shows.

A task of the kind reads its `models` tuple, `epochs_key` and `resumable_models` from `MODELS`; its
training code looks a model up here instead of branching on its name. Every builder and fitter takes
the task's config, which has one section per model (config.py) and `seed`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# what loading each model imports (the served model's code), as import names: its own list, so the
# linear model does not pull in TensorFlow; yaml for physml's task package; MLflow as mlflow-skinny (a
# distribution's name: mlflow.pyfunc loads and serves from it; `mlflow` adds the tracking server's
# packages, scikit-learn and scipy among them). tracking.runs.pinned() logs the distribution installed
# for each (tensorflow-cpu or tensorflow, xgboost-cpu or xgboost).
# tests/models/test_fresh_environments.py loads each registered model in an environment holding only these.
LOADING = ("mlflow-skinny", "numpy", "pandas", "yaml")

# fit(config, regressor, X, y, validation, hooks, checkpoints, split): fits `regressor` in place on the
# scaled training part, validating on `validation` (X_val, y_val), reporting each epoch to `hooks`;
# `split` tells cross-fitting the policy and groups (policy, fit_groups, validation_rows)
Fit = Callable[..., None]
# curve(config, regressor, unit) -> the figure of its per-epoch (per-round) validation metrics
Curve = Callable[[Any, Any, str], Any]


@dataclass(frozen=True)
class ModelSpec:
    """One row of the table."""

    build: Callable[[Any], Any]  # config -> the unfitted regressor
    fit: Fit
    explainer: str  # the SHAP explainer (evaluation/explain.py)
    requirements: tuple[str, ...] = LOADING  # what loading it imports (an ensemble: its members')
    epochs_key: str | None = None  # the dotted config key of its epochs (a boosted model's: rounds)
    resumable: bool = False  # saves a checkpoint each epoch (round) and continues from one
    curve: Curve | None = None  # its training curve, if it has one
    members: Callable[[Any], list[str]] | None = None  # a stack: the single models it blends
    # its last epoch already logged the final model's val_rmse (same part, same weights)
    logs_final_validation: bool = False
    in_all: bool = True  # trained by `--model all` (and can be an ensemble's member)


def build_linear(config):
    from sklearn.linear_model import LinearRegression

    return LinearRegression()


def fit_plain(config, regressor, X, y, validation, hooks, checkpoints, split) -> None:
    regressor.fit(X, y)


def build_gbm(config):
    from physml.tasks.composition.boosting import make_gbm
    from physml.tasks.composition.crossfit import CrossFitted

    booster = make_gbm(config.gbm, config.seed)
    return CrossFitted(booster, config.gbm.folds, config.seed) if config.gbm.folds >= 2 else booster


def fit_gbm(config, regressor, X, y, validation, hooks, checkpoints, split) -> None:
    import mlflow

    from physml.tasks.composition import boosting
    from physml.tasks.composition.crossfit import CrossFitted

    if isinstance(regressor, CrossFitted):
        cross_fit(config, regressor, X, y, validation, hooks, split)
        return
    boosting.fit_gbm(regressor, X, y, validation, hooks, config.gbm.report_every, checkpoints)
    mlflow.log_metrics(boosting.booster_rounds(regressor))


def cross_fit(config, regressor, X, y, validation, hooks, split) -> None:
    """A cross-fitted XGBoost over the training and validation parts (crossfit.py): each member fits as
    the single model does, early-stopping on its held-out fold, its curve logged as `fold<k>/...`.
    Not checkpointed: tuning trials fit one model instead (the task's trial_overrides)."""
    import mlflow
    import numpy as np

    from physml.data.splits import fold_indices
    from physml.tasks.composition.boosting import booster_rounds
    from physml.tasks.composition.boosting import fit_gbm as boost

    X_all, y_all = np.vstack([X, validation[0]]), np.concatenate([y, validation[1]])
    folds = fold_indices(len(y_all), split.policy, regressor.folds, config.seed, split.fit_groups)

    def fit_member(index, member, X_fit, y_fit, held):
        name = f"fold{index + 1}"
        boost(member, X_fit, y_fit, held, [prefixed(hook, name) for hook in hooks], config.gbm.report_every)
        mlflow.log_metrics({f"{name}/{key}": value for key, value in booster_rounds(member).items()})

    regressor.fit(X_all, y_all, folds, fit_member, split.validation_rows)


def gbm_curve(config, regressor, unit: str):
    from physml.evaluation import plots

    every = config.gbm.report_every
    members = getattr(regressor, "members_", None)
    if members is None:
        title = f"gbm: validation RMSE every {every} rounds"
        return plots.training_curves(regressor.rounds_history_, title, unit, every, "boosting round")
    # cross-fitted: each member's curve on its held-out fold
    history = {f"fold{k + 1}/val_rmse": m.rounds_history_.get("val_rmse", []) for k, m in enumerate(members)}
    title = f"gbm, {len(members)} cross-fitted: held-out fold RMSE every {every} rounds"
    return plots.training_curves(history, title, unit, every, "boosting round", tuple(history))


def build_dnn(config):
    from physml.tasks.composition.dense import DenseRegressor

    return DenseRegressor(**config.model_params("dnn"), seed=config.seed)


def fit_dnn(config, regressor, X, y, validation, hooks, checkpoints, split) -> None:
    regressor.fit(X, y, on_epoch_end=hooks, checkpoints=checkpoints, validation_data=validation)


def dnn_curve(config, regressor, unit: str):
    from physml.evaluation import plots

    return plots.training_curves(regressor.history_, f"dnn {config.dnn.layers}x{config.dnn.units}", unit=unit)


def build_ensemble(config):
    from physml.tasks.composition.ensemble import make_stack

    return make_stack([(member, MODELS[member].build(config)) for member in config.ensemble.members])


def fit_ensemble(config, regressor, X, y, validation, hooks, checkpoints, split) -> None:
    """Each member fitted as it is alone (its per-epoch metrics named `member/...`), then the blend on
    the validation part; the ensemble is kept only where it beats its best member there."""
    import mlflow

    from physml.tasks.composition.ensemble import blend_metrics, fit_stack

    for member, estimator in regressor.estimators:
        member_hooks = [prefixed(hook, member) for hook in hooks]
        MODELS[member].fit(config, estimator, X, y, validation, member_hooks, None, split)
    fit_stack(regressor, *validation)
    metrics, beats = blend_metrics(regressor, *validation)
    mlflow.log_metrics(metrics)
    mlflow.set_tag("ensemble.beats_best_member", str(beats).lower())
    regressor.beats_best_member_ = beats


def build_hurdle(config):
    from physml.tasks.composition.hurdle import make_hurdle

    return make_hurdle(config)


def fit_hurdle(config, regressor, X, y, validation, hooks, checkpoints, split) -> None:
    """One pair early-stopping on the validation part, or (gbm.folds >= 2) pairs cross-fitted over the
    training and validation parts (hurdle.py)."""
    import numpy as np

    from physml.data.splits import fold_indices
    from physml.tasks.composition import hurdle

    if config.gbm.folds < 2:
        hurdle.fit_hurdle(regressor, X, y, validation, hooks, config.gbm.report_every)
        return
    X_all, y_all = np.vstack([X, validation[0]]), np.concatenate([y, validation[1]])
    folds = fold_indices(len(y_all), split.policy, config.gbm.folds, config.seed, split.fit_groups)
    hurdle.cross_fit_hurdle(regressor, X_all, y_all, folds, split.validation_rows, hooks, config.gbm.report_every)


def prefixed(hook, name: str):
    """The per-epoch hook with each metric named `name/metric` (an ensemble's members share a run)."""
    return lambda epoch, metrics: hook(epoch, {f"{name}/{key}": value for key, value in metrics.items()})


MODELS: dict[str, ModelSpec] = {
    "linear": ModelSpec(build_linear, fit_plain, "LinearExplainer"),
    "gbm": ModelSpec(
        build_gbm,
        fit_gbm,
        "TreeExplainer",
        (*LOADING, "xgboost"),
        epochs_key="gbm.n_estimators",  # the boosted model's "epochs" are its rounds
        resumable=True,
        curve=gbm_curve,
    ),
    "dnn": ModelSpec(
        build_dnn,
        fit_dnn,
        "PermutationExplainer",
        (*LOADING, "keras", "tensorflow"),
        epochs_key="dnn.epochs",
        resumable=True,
        curve=dnn_curve,
        logs_final_validation=True,
    ),
    # zero or not, then how much (hurdle.py): for a target that is exactly 0 on many rows; gbm's settings
    "hurdle": ModelSpec(build_hurdle, fit_hurdle, "PermutationExplainer", (*LOADING, "xgboost"), in_all=False),
    # stacks single models (ensemble.py); asked for by name, as it refits its members
    "ensemble": ModelSpec(
        build_ensemble, fit_ensemble, "PermutationExplainer", members=lambda config: list(config.ensemble.members)
    ),
}
CLASSIFIERS = ("linear", "gbm")  # what a classification task trains (the dense net and the stack regress only)
SINGLE_MODELS = tuple(name for name, spec in MODELS.items() if spec.members is None and spec.in_all)
EPOCHS_KEYS = {name: spec.epochs_key for name, spec in MODELS.items() if spec.epochs_key}
RESUMABLE = tuple(name for name, spec in MODELS.items() if spec.resumable)


def members_of_model(config, model: str) -> list[str]:
    """The single models `model` blends (none for a single model)."""
    members = MODELS[model].members
    return members(config) if members else []


def requirements_of(config, model: str) -> tuple[str, ...]:
    """What loading `model` imports: its own list, or the union of its members' lists."""
    names = members_of_model(config, model) or [model]
    return tuple(dict.fromkeys(name for member in names for name in MODELS[member].requirements))


def validate_model_settings(config, models) -> None:
    """Rules across a config's model sections (each key's own range is on its field): registered names
    only for `models`, an ensemble of two or more different single models, no 1-fold cross-fitting."""
    from physml.config.core import check

    members = config.ensemble.members
    check(
        [
            (
                set(config.registry.names) <= set(models),
                "registry.names",
                f"a mapping from {tuple(models)} to model names",
            ),
            (
                len(members) >= 2 and len(set(members)) == len(members) and set(members) <= set(SINGLE_MODELS),
                "ensemble.members",
                f"two or more different models of {', '.join(SINGLE_MODELS)}",
            ),
            (config.gbm.folds != 1, "gbm.folds", "0 (one model) or the number of cross-fitted models (2 or more)"),
        ]
    )
