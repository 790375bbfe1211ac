"""Baselines a run is scored against on its own parts: a dummy (the training mean, or the majority
class) and a nearest-neighbour model (k-NN on standard-scaled features; where a row's group was
trained on, that group's training mean or majority instead, Meredig 2018's point that a repeated
composition is a look-up). Fitted on the training part in seconds; the model's skill over each is
a paired bootstrap difference."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

NEIGHBOURS = 5
# the score skill is measured in, and whether higher is better
SCORES = {"regression": ("rmse", False), "classification": ("balanced_accuracy", True)}


def score(kind: str, y, predicted) -> float:
    y, predicted = np.asarray(y), np.asarray(predicted)
    if kind == "regression":
        return float(np.sqrt(np.mean((y.astype(float) - predicted.astype(float)) ** 2)))
    # balanced accuracy (scikit-learn's definition: the mean recall over the classes present), in numpy
    # because the bootstrap calls it a thousand times
    classes = np.unique(y)
    return float(np.mean([np.mean(predicted[y == c] == c) for c in classes]))


def dummy(kind: str, X_train, y_train):
    model = DummyRegressor() if kind == "regression" else DummyClassifier(strategy="most_frequent")
    return model.fit(np.zeros((len(y_train), 1)), y_train)


class NearestNeighbour:
    """k-NN on the features; a row whose group the training part holds gets that group's mean
    (regression) or most frequent class instead."""

    def __init__(self, kind: str):
        self.kind = kind
        knn = KNeighborsRegressor if kind == "regression" else KNeighborsClassifier
        self.knn = make_pipeline(StandardScaler(), knn(n_neighbors=NEIGHBOURS))
        self.group_values: pd.Series | None = None

    def fit(self, X, y, groups=None) -> NearestNeighbour:
        X = np.asarray(X, dtype=float)
        self.knn.fit(X, np.asarray(y))
        if groups is not None:
            frame = pd.DataFrame({"g": pd.Series(np.asarray(groups)).astype(str), "y": np.asarray(y)})
            by_group = frame.groupby("g").y
            self.group_values = by_group.mean() if self.kind == "regression" else by_group.agg(lambda v: v.mode()[0])
        return self

    def predict(self, X, groups=None) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if groups is None or self.group_values is None:
            return self.knn.predict(X)
        known = pd.Series(np.asarray(groups)).astype(str).map(self.group_values)
        unseen = known.isna().to_numpy()
        predicted = known.to_numpy(copy=True)
        if unseen.any():  # the neighbours are searched only for rows whose group was not trained on
            predicted[unseen] = self.knn.predict(X[unseen])
        return predicted.astype(float if self.kind == "regression" else self.group_values.dtype)


def skill(kind: str, y, model_predicted, baseline_predicted, resamples: int, seed: int) -> dict[str, float]:
    """How much better the model scores than the baseline (RMSE saved, or balanced accuracy gained), with
    a 95% paired bootstrap interval (the same resampled rows for both)."""
    y, ours, theirs = np.asarray(y), np.asarray(model_predicted), np.asarray(baseline_predicted)
    _, higher = SCORES[kind]

    def gain(rows) -> float:
        difference = score(kind, y[rows], ours[rows]) - score(kind, y[rows], theirs[rows])
        return difference if higher else -difference

    values = {"": gain(slice(None))}
    if resamples > 0 and len(y) > 1:
        rng = np.random.default_rng(seed)
        draws = [gain(rng.integers(0, len(y), len(y))) for _ in range(resamples)]
        values["_ci_low"], values["_ci_high"] = map(float, np.quantile(draws, [0.025, 0.975]))
    return values
