"""The evidence's arithmetic on small hand-made parts: the repeat-scatter floor, the baselines and
their skill, the split audit (what a leak is and what a declared overlap is)."""

from __future__ import annotations

import numpy as np
import pytest

from physml.evaluation.baselines import NearestNeighbour, score, skill
from physml.evaluation.floor import repeat_floor
from physml.evaluation.split_audit import audit
from physml.run_result import EvidencePart


def test_floor_is_the_pooled_within_group_sd():
    y = np.array([1.0, 3.0, 10.0, 14.0, 7.0])  # groups a (1, 3) and b (10, 14) repeat; c does not
    groups = np.array(["a", "a", "b", "b", "c"])
    floor = repeat_floor(y, groups, {"half": np.array(["low", "low", "high", "high", "high"])})
    # squares about each group's mean: 1 + 1 + 4 + 4 = 10 over (2 - 1) + (2 - 1) degrees of freedom
    assert floor["rmse"] == pytest.approx(np.sqrt(10 / 2))
    assert (floor["rows"], floor["groups"], floor["share"]) == (4, 2, 0.8)
    assert floor["r2_max"] == pytest.approx(1 - 5 / np.var(y, ddof=1))
    assert floor["by_half/low/rmse"] == pytest.approx(np.sqrt(2)) and floor["by_half/high/rows"] == 2


def test_no_repeat_gives_no_floor():
    floor = repeat_floor(np.arange(4.0), np.array(["a", "b", "c", "d"]))
    assert floor["rows"] == 0 and np.isnan(floor["rmse"])


def test_nearest_neighbour_looks_up_a_trained_group():
    X = np.array([[0.0], [0.1], [5.0], [5.1], [9.0]])
    y = np.array([1.0, 3.0, 50.0, 52.0, 90.0])
    groups = np.array(["a", "a", "b", "b", "c"])
    model = NearestNeighbour("regression").fit(X, y, groups)
    predicted = model.predict(np.array([[100.0], [0.05]]), np.array(["b", "new"]))
    assert predicted[0] == 51.0  # group b's training mean, wherever its features are
    assert predicted[1] == pytest.approx(y.mean())  # k=5 neighbours of 5 rows: all of them


def test_skill_is_the_baseline_rmse_saved_with_a_paired_interval():
    rng = np.random.default_rng(0)
    y = rng.normal(size=400)
    good, bad = y + rng.normal(0, 0.1, 400), y + rng.normal(0, 1.0, 400)
    gain = skill("regression", y, good, bad, resamples=200, seed=0)
    assert gain[""] == pytest.approx(score("regression", y, bad) - score("regression", y, good))
    assert 0 < gain["_ci_low"] < gain[""] < gain["_ci_high"]
    assert skill("regression", y, bad, good, 0, 0)[""] < 0


def test_balanced_accuracy_matches_scikit_learn():
    from sklearn.metrics import balanced_accuracy_score

    rng = np.random.default_rng(1)
    y, predicted = rng.integers(0, 3, 300), rng.integers(0, 3, 300)
    assert score("classification", y, predicted) == pytest.approx(balanced_accuracy_score(y, predicted))


def part(ids, groups=None, features=None):
    ids = np.asarray(ids)
    return EvidencePart(y=ids * 1.0, predicted=ids * 1.0, ids=ids, groups=groups, features=features)


def test_the_same_record_on_both_sides_is_a_leak():
    found = audit({"train": part([1, 2, 3]), "test": part([3, 4])}, grouped=False)
    assert found.overlaps[0].shared_ids == 1 and "1 record ids in both train and test" in found.leaks()[0]


def test_a_group_on_both_sides_leaks_only_under_a_grouped_split():
    train = part([1, 2, 3], groups=np.array(["a", "b", "c"]))
    test = part([4, 5], groups=np.array(["c", "d"]))
    random = audit({"train": train, "test": test}, grouped=False)
    assert random.leaks() == [] and random.overlaps[0].trained_group_share == 0.5  # declared: reported only
    assert (
        "1 groups in both train and test under a grouped split" in audit({"train": train, "test": test}, True).leaks()
    )


def test_identical_rows_leak_where_no_group_key_is_declared():
    features = np.array([[0.0, 1.0], [2.0, 3.0]])
    train = EvidencePart(y=np.array([1.0, 2.0]), predicted=None, features=features)
    test = EvidencePart(y=np.array([2.0, 9.0]), predicted=None, features=np.array([[2.0, 3.0], [2.0, 3.0]]))
    found = audit({"train": train, "test": test}, grouped=False)
    assert found.overlaps[0].identical_rows == 1  # the second row has the same features but another target
    assert found.leaks() == ["1 identical rows in both train and test"]


def test_class_strata_give_accuracy_and_ece_in_the_strata_order():
    import pandas as pd

    from physml.evaluation.calibration import expected_calibration_error
    from physml.tracking.evidence import class_strata

    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet([1, 1, 1], size=60)
    y = rng.integers(0, 3, 60)
    labels = pd.Categorical(np.where(np.arange(60) < 20, "high", "low"), categories=["low", "high"])
    part = EvidencePart(y=y, predicted=probabilities.argmax(axis=1), probabilities=probabilities)
    table = class_strata(part, labels)
    assert list(table.stratum) == ["low", "high"] and list(table.n) == [40, 20]
    assert table.accuracy[1] == pytest.approx(np.mean(y[:20] == probabilities[:20].argmax(axis=1)))
    assert table.ece[1] == pytest.approx(expected_calibration_error(probabilities[:20], y[:20]))
