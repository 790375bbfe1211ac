"""The target on the shared 4,064 galaxies: 4 classes, CPU, default config (30 epochs, ~1.5 min on
2 cores): test accuracy clearly above the majority-class rate."""

import pytest

from physml.config import load_galaxy_config
from physml.tasks import galaxy


@pytest.mark.slow
def test_cnn_beats_the_majority_class(tracking, galaxy_dir):
    config = load_galaxy_config(overrides={"experiment": "test-galaxy-accuracy", "registry.register": False})
    result = galaxy.run(config, galaxy_dir)
    metrics = result.metrics
    assert metrics["test_majority_rate"] < 0.6
    assert metrics["test_accuracy"] >= metrics["test_majority_rate"] + 0.12
    assert metrics["test_macro_f1"] > 0.5
