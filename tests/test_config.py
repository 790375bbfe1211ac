import pytest

from physml.errors import ConfigError
from physml.tasks import get_task


def test_defaults_preset_and_overrides_compose():
    config = get_task("supercon").load_config(preset="seed", overrides={"dnn.epochs": 7, "data.split": "grouped"})
    assert (config.dnn.layers, config.dnn.units, config.dnn.optimizer) == (3, 125, "sgd")
    assert config.dnn.learning_rate == pytest.approx(0.00109)
    assert config.dnn.batch_size == 16 and config.dnn.epochs == 7
    assert config.data.split == "grouped" and config.preset == "seed"
    assert config.registry.names["dnn"] == "supercon-dnn"


def test_string_overrides_are_read_as_yaml():
    config = get_task("supercon").load_config(overrides=["gbm.max_depth=5", "registry.register=false"])
    assert config.gbm.max_depth == 5 and config.registry.register is False


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"overrides": {"dnn.unitz": 3}}, "unknown config key 'dnn.unitz'"),
        ({"overrides": {"dnn.units": "many"}}, "config key 'dnn.units' must be an integer, got 'many'"),
        (
            {"overrides": {"data.split": "diagonal"}},
            "config key 'data.split' must be one of random, grouped, family, got 'diagonal'",
        ),
        ({"overrides": ["dnn.units"]}, "override 'dnn.units' must look like key=value"),
        ({"preset": "fastest"}, "unknown preset 'fastest'"),
        ({"path": "/nonexistent/config.yaml"}, "config file not found: /nonexistent/config.yaml"),
    ],
)
def test_bad_config_names_the_key(kwargs, message):
    with pytest.raises(ConfigError) as caught:
        get_task("supercon").load_config(**kwargs)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"train.workers": -1}, "config key 'train.workers' must be >= 0, got -1"),
        ({"train.gpus_per_worker": -0.5}, "config key 'train.gpus_per_worker' must be >= 0, got -0.5"),
        ({"train.workers": 2, "train.members": 3}, "config key 'train.workers' must be 0 with train.members > 1"),
    ],
)
def test_bad_worker_settings_name_the_key(overrides, message):
    """galaxy's Ray Train keys (`--workers`, `--gpus-per-worker`): a seed ensemble trains in one process."""
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        get_task("galaxy").load_config(overrides=overrides)
