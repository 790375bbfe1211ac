"""Hyperparameter importance from the trials, with Optuna's fANOVA evaluator."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pandas as pd

from physml.tuning.spaces import SearchSpec


def distribution(spec: dict):
    kind, args = next(iter(spec.items()))
    if kind == "loguniform":
        return optuna.distributions.FloatDistribution(args[0], args[1], log=True)
    if kind == "uniform":
        return optuna.distributions.FloatDistribution(args[0], args[1])
    if kind in ("randint", "qrandint"):
        return optuna.distributions.IntDistribution(args[0], args[1] - 1)
    return optuna.distributions.CategoricalDistribution([json.dumps(choice) for choice in args])


def param_importances(table: pd.DataFrame, spec: SearchSpec) -> dict[str, float]:
    """{param: importance} over the finished trials; {} when there are too few to say."""
    finished = table[np.isfinite(table[spec.metric])]
    if len(finished) < 3:
        return {}
    distributions = {name: distribution(space) for name, space in spec.space.items()}
    study = optuna.create_study(direction="minimize" if spec.mode == "min" else "maximize")
    for _, row in finished.iterrows():
        params = {}
        for name, dist in distributions.items():
            value = row[name]
            if isinstance(dist, optuna.distributions.CategoricalDistribution):
                value = json.dumps(value.tolist() if hasattr(value, "tolist") else value)
            params[name] = value
        if not all(dist._contains(dist.to_internal_repr(params[name])) for name, dist in distributions.items()):
            continue  # a value the space cannot give (PBT perturbs past its bounds): fANOVA cannot place it
        study.add_trial(
            optuna.trial.create_trial(params=params, distributions=distributions, value=float(row[spec.metric]))
        )
    try:
        return {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
    except (RuntimeError, ValueError):
        return {}
