"""Fixtures for tuning tests (helpers: tests/helpers/tuning.py)."""

from __future__ import annotations

import pytest
import yaml


@pytest.fixture
def small_grid(tmp_path):
    """A small supercon grid spec (fast trials): 2 x 2 x 1 points by default."""

    def write(units=(16, 32), learning_rates=(1e-3, 3e-3), epochs=2, layers=(2,)):
        spec = {
            "model": "dnn",
            "metric": "val_rmse",
            "mode": "min",
            "grid": {
                "fixed": {"dnn.epochs": epochs, "dnn.batch_size": 256, "dnn.optimizer": "sgd"},
                "space": {
                    "dnn.units": {"grid": list(units)},
                    "dnn.learning_rate": {"grid": list(learning_rates)},
                    "dnn.layers": {"grid": list(layers)},
                },
            },
        }
        path = tmp_path / "search.yaml"
        path.write_text(yaml.safe_dump(spec))
        return str(path)

    return write
