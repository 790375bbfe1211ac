"""Checkpoints of a Keras net: each epoch's state saved, training continued from it (no Ray here;
tests/tuning/test_checkpointed_trials.py runs the same through Tune)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from physml.errors import ConfigError
from physml.models.checkpoints import STATE_FILE, Checkpoints
from physml.tasks.composition.dense import DenseRegressor


@pytest.fixture(scope="module")
def regression_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1500, 8))
    return X, X @ rng.normal(size=8) + 3.0


def fit_keeping(regressor: DenseRegressor, X, y, checkpoints: Checkpoints) -> dict[int, object]:
    """Fit, taking every epoch's checkpoint folder as a trial's report would."""
    kept = {}

    def take(epoch, metrics):
        folder = checkpoints.take(epoch)
        if folder is not None:
            kept[epoch] = folder

    regressor.fit(X, y, on_epoch_end=take, checkpoints=checkpoints)
    return kept


def test_every_epoch_saved_with_its_history_and_owner(regression_data):
    X, y = regression_data
    checkpoints = Checkpoints(meta={"trial_id": "t1", "params": {"dnn.units": 8}})
    kept = fit_keeping(DenseRegressor(layers=2, units=8, epochs=3, progress=False), X, y, checkpoints)
    assert sorted(kept) == [1, 2, 3]
    state = json.loads((kept[2] / STATE_FILE).read_text())
    assert state["epoch"] == 2 and state["trial_id"] == "t1" and state["params"] == {"dnn.units": 8}
    assert len(state["history"]["val_rmse"]) == 2
    assert (kept[2] / "model.keras").stat().st_size > 0


def test_every_n_epochs_and_the_last(regression_data):
    X, y = regression_data
    kept = fit_keeping(DenseRegressor(layers=1, units=4, epochs=5, progress=False), X, y, Checkpoints(every=2))
    assert sorted(kept) == [2, 4, 5]


def test_resumed_net_continues_where_it_stopped(regression_data):
    X, y = regression_data
    first = DenseRegressor(layers=2, units=8, epochs=2, progress=False)
    kept = fit_keeping(first, X, y, Checkpoints())
    resumed = DenseRegressor(layers=2, units=8, epochs=5, learning_rate=5e-4, progress=False)
    resumed.fit(X, y, checkpoints=Checkpoints(kept[2]))
    assert resumed.resumed_epoch_ == 2
    history = resumed.history_["val_rmse"]
    assert len(history) == 5 and history[:2] == first.history_["val_rmse"]  # epochs 1-2 from the checkpoint
    assert float(resumed.model_.optimizer.learning_rate.numpy()) == pytest.approx(5e-4)  # the new value (PBT)
    assert int(resumed.model_.optimizer.iterations.numpy()) > int(first.model_.optimizer.iterations.numpy())
    assert np.isfinite(resumed.predict(X[:5])).all()


def test_checkpoint_of_another_architecture_is_refused(regression_data):
    X, y = regression_data
    kept = fit_keeping(DenseRegressor(layers=2, units=8, epochs=1, progress=False), X, y, Checkpoints())
    with pytest.raises(ConfigError, match="another shape"):
        DenseRegressor(layers=3, units=8, epochs=2, progress=False).fit(X, y, checkpoints=Checkpoints(kept[1]))


def test_no_checkpoint_to_resume_starts_at_zero(tmp_path):
    assert Checkpoints().resume() is None
    assert Checkpoints(tmp_path).resume() is None  # a folder without the state file


def test_boosted_model_reports_rounds_and_boosts_on_from_a_checkpoint():
    from physml.tasks.composition.boosting import booster_rounds, fit_gbm, make_gbm
    from physml.tasks.composition.config import GBMParams

    rng = np.random.default_rng(1)
    X = rng.normal(size=(2500, 6))
    y = X @ rng.normal(size=6) + 2 * np.sin(X[:, 0])
    validation = (X[2000:], y[2000:])
    params = GBMParams(n_estimators=50, early_stopping_rounds=0, report_every=10)
    checkpoints, reports = Checkpoints(), {}

    def take(rounds, metrics):
        reports[rounds] = (metrics["val_rmse"], checkpoints.take(rounds))

    first = fit_gbm(make_gbm(params, 0), X[:2000], y[:2000], validation, [take], 10, checkpoints)
    assert sorted(reports) == [10, 20, 30, 40, 50]
    assert [v for v, _ in map(reports.get, sorted(reports))] == first.rounds_history_["val_rmse"]
    resumed = fit_gbm(make_gbm(params, 0), X[:2000], y[:2000], validation, [], 10, Checkpoints(reports[30][1]))
    assert resumed.resumed_rounds_ == 30 and booster_rounds(resumed)["boosted_rounds"] == 50
    assert resumed.rounds_history_["val_rmse"][:3] == first.rounds_history_["val_rmse"][:3]
    assert resumed.rounds_history_["val_rmse"][-1] < resumed.rounds_history_["val_rmse"][2]  # it kept learning
    stopped = fit_gbm(
        make_gbm(GBMParams(n_estimators=2000, early_stopping_rounds=10, learning_rate=0.5), 0),
        X[:2000],
        y[:2000],
        validation,
        [],
        10,
    )
    rounds = booster_rounds(stopped)
    assert rounds["boosted_rounds"] < 2000 and rounds["best_iteration"] == rounds["boosted_rounds"] - 11
