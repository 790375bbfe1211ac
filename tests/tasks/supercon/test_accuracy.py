"""The targets on the full data (random 70:30 split, 15% of the training part validating): GBM R^2 >= 0.90 at
its defaults, and the `strong` preset's dense net R^2 >= 0.90 (the seed study's net, `--preset seed`, reaches
0.87 in 200 epochs; docs/results.md). These train the real configurations (the strong net: 100 epochs, about 30 s).
"""

import pytest

from physml.tasks import get_task
from physml.tracking.runs import run_task

# what these tests read is the metrics: no SHAP, no logged model
FAST_EVALUATION = {
    "evaluation.explain": False,
    "evaluation.plots": False,
    "registry.log_model": False,
    "registry.register": False,
}


@pytest.mark.slow
def test_gbm_default_reaches_the_published_anchor(tracking, supercon_dir):
    config = get_task("supercon").load_config(overrides={**FAST_EVALUATION, "experiment": "test-accuracy"})
    (result,) = run_task(get_task("supercon"), config, ["gbm"], supercon_dir)
    assert result.metrics["test_r2"] >= 0.90
    assert result.metrics["test_rmse"] < 10.5


@pytest.mark.slow
def test_dnn_strong_preset_reaches_r2_090(tracking, supercon_dir):
    config = get_task("supercon").load_config(
        preset="strong", overrides={**FAST_EVALUATION, "experiment": "test-accuracy"}
    )
    assert config.data.feature_set == "all167" and config.dnn.schedule == "cosine"
    (result,) = run_task(get_task("supercon"), config, ["dnn"], supercon_dir)
    assert not result.diverged
    assert result.metrics["test_r2"] >= 0.90
