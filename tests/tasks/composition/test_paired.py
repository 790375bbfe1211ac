"""`cv`'s paired per-fold comparison with the leaderboard entries that published their fold scores."""

from __future__ import annotations

import pytest

from physml.tasks import get_task
from physml.tasks.composition.cv import paired_differences


def test_each_entry_with_fold_scores_is_paired_on_the_folds_run():
    task = get_task("expt_gap")
    paired = {pair.source: pair for pair in paired_differences(task, {0: 0.30, 2: 0.40})}
    crabnet = paired["Matbench v0.1 #4: CrabNet"]  # folds 0.34759, 0.34342, 0.347258, ...
    assert crabnet.differences == pytest.approx([0.30 - 0.34759, 0.40 - 0.347258])
    assert crabnet.better == 1 and crabnet.mean == pytest.approx((0.30 - 0.34759 + 0.40 - 0.347258) / 2)
    assert "Matbench v0.1 #3: MODNet (v0.1.12)" not in paired  # no published fold scores
    assert len(paired) == 10


def test_higher_is_better_for_balanced_accuracy():
    paired = paired_differences(get_task("expt_is_metal"), {k: 0.93 for k in range(5)})
    ammexpress = next(pair for pair in paired if "AMMExpress" in pair.source)
    assert ammexpress.better == 5 and ammexpress.mean == pytest.approx(0.93 - 0.9209, abs=1e-4)
