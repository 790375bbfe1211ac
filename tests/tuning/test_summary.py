"""The search's trial table (fast: Tune's results as plain objects, no Ray)."""

from __future__ import annotations

from types import SimpleNamespace

from physml.tuning.spaces import SearchSpec
from physml.tuning.summary import results_table


def result(epoch: int, rmse: float, timestamp: int, **metrics):
    values = {"epoch": epoch, "val_rmse": rmse, "timestamp": timestamp, **metrics}
    return SimpleNamespace(metrics=values, config={"gbm.max_depth": 6}, error=None)


def test_only_the_scheduler_stops_a_trial_early():
    """A trial ASHA cut off reports no `completed`; one its own early stopping ended (a boosted model at
    364 of 3000 rounds) does, and is not counted as stopped early; nor is one that ran every epoch."""
    spec = SearchSpec("supercon", "bayes", "val_rmse", "min", {"gbm.max_depth": {"randint": [4, 17]}}, model="gbm")
    grid = [
        result(200, 11.9, 1),  # ASHA stopped it at its first rung
        result(364, 9.6, 2, completed=1),  # XGBoost's early stopping on the validation part
        result(3000, 9.9, 3, completed=1),  # every round
        result(40, float("nan"), 4, diverged=1),
    ]
    table = results_table(grid, spec, epochs=3000)
    assert table["early_stopped"].tolist() == [1, 0, 0, 0]
    assert table["diverged"].tolist() == [0, 0, 0, 1]
