"""SHAP feature importance, with the explainer the caller names for its model.

LinearExplainer (exact for linear models), TreeExplainer (exact for tree ensembles such as
XGBoost) and PermutationExplainer, model-agnostic over a numpy predict function: it works with
Keras 3 nets (SHAP's Deep/GradientExplainer target TF1-style graphs).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import shap
from matplotlib.figure import Figure

EXPLAINERS = ("LinearExplainer", "TreeExplainer", "PermutationExplainer")


def shap_values(explainer_name: str, regressor, background: pd.DataFrame, sample: pd.DataFrame, seed: int = 0):
    """shap.Explanation for `sample` (already scaled), with `background` as the reference data."""
    if explainer_name not in EXPLAINERS:
        raise ValueError(f"unknown explainer {explainer_name!r}; choose one of {', '.join(EXPLAINERS)}")
    if explainer_name == "LinearExplainer":
        explainer = shap.LinearExplainer(regressor, background)
    elif explainer_name == "TreeExplainer":
        explainer = shap.TreeExplainer(regressor, background)
    else:
        masker = shap.maskers.Independent(background, max_samples=len(background))
        explainer = shap.PermutationExplainer(lambda x: regressor.predict(np.asarray(x)), masker, seed=seed)
        return explainer(sample, max_evals=2 * sample.shape[1] + 1, silent=True)
    return explainer(sample)


def mean_explanation(explanations: list):
    """The explanation of the mean of several models' predictions (bagged or cross-fitted members):
    SHAP values are linear in the model, so they are the mean of each model's."""
    first = explanations[0]
    return shap.Explanation(
        values=np.mean([e.values for e in explanations], axis=0),
        base_values=np.mean([e.base_values for e in explanations], axis=0),
        data=first.data,
        feature_names=first.feature_names,
    )


def _shap_figure(plot, explanation, max_display: int, title: str) -> Figure:
    plt.figure(figsize=(8, 7))
    plot(explanation, max_display=max_display, show=False)
    fig = plt.gcf()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def beeswarm(explanation, max_display: int = 20, title: str = "") -> Figure:
    return _shap_figure(shap.plots.beeswarm, explanation, max_display, title)


def bar(explanation, max_display: int = 20, title: str = "") -> Figure:
    return _shap_figure(shap.plots.bar, explanation, max_display, title)


def mean_abs_shap(explanation) -> pd.Series:
    values = np.abs(np.asarray(explanation.values)).mean(axis=0)
    return pd.Series(values, index=explanation.feature_names).sort_values(ascending=False)
