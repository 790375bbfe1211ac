import pytest
import yaml

from physml.errors import ConfigError
from physml.tasks import get_task
from physml.tuning.spaces import load_search_spec


def test_supercon_grid_is_the_studys_32_points():
    spec = load_search_spec(get_task("supercon"), "grid")
    assert spec.space == {
        "dnn.units": {"grid": [10, 40, 80, 200]},
        "dnn.learning_rate": {"grid": [1e-5, 1e-4, 1e-3, 1e-2]},
        "dnn.layers": {"grid": [2, 3]},
    }
    assert spec.fixed == {"dnn.epochs": 20, "dnn.batch_size": 32, "dnn.optimizer": "sgd"}
    assert (spec.metric, spec.mode) == ("val_rmse", "min")


def test_bayes_spaces_cover_the_same_ranges_and_galaxy_has_seven():
    supercon = load_search_spec(get_task("supercon"), "bayes")
    assert supercon.space["dnn.learning_rate"] == {"loguniform": [1e-5, 1e-2]} and supercon.asha
    galaxy = load_search_spec(get_task("galaxy"), "bayes")
    assert len(galaxy.space) == 7 and galaxy.metric == "val_accuracy" and galaxy.mode == "max"


def test_malformed_space_names_the_key(tmp_path):
    path = tmp_path / "search.yaml"
    path.write_text(
        yaml.safe_dump(
            {"model": "dnn", "metric": "val_rmse", "mode": "min", "grid": {"space": {"dnn.units": {"gridd": [1]}}}}
        )
    )
    with pytest.raises(ConfigError, match=r"search space 'dnn\.units': write one of"):
        load_search_spec(get_task("supercon"), "grid", path)
    with pytest.raises(ConfigError, match="has no 'bayes' search"):
        load_search_spec(get_task("supercon"), "bayes", path)


def test_pbt_specs_change_only_what_a_checkpoint_takes(tmp_path):
    supercon = load_search_spec(get_task("supercon"), "pbt")
    assert set(supercon.space) == {"dnn.learning_rate", "dnn.batch_size"} and supercon.perturbation_interval == 4
    assert set(load_search_spec(get_task("galaxy"), "pbt").space) == {"train.learning_rate"}

    def spec(space, **section):
        path = tmp_path / "search.yaml"
        path.write_text(yaml.safe_dump({"model": "dnn", "metric": "val_rmse", "pbt": {"space": space, **section}}))
        return path

    with pytest.raises(ConfigError, match=r"pbt cannot change 'dnn\.units' mid-training"):
        load_search_spec(get_task("supercon"), "pbt", spec({"dnn.units": {"choice": [16, 32]}}))
    with pytest.raises(ConfigError, match=r"pbt space 'dnn\.learning_rate': write one of"):
        load_search_spec(get_task("supercon"), "pbt", spec({"dnn.learning_rate": {"grid": [1e-3, 1e-2]}}))
    with pytest.raises(ConfigError, match="perturbation_interval must be a whole number"):
        load_search_spec(
            get_task("supercon"), "pbt", spec({"dnn.learning_rate": {"choice": [1e-3]}}, perturbation_interval=0)
        )
    rate = {"dnn.learning_rate": {"choice": [1e-3]}}
    assert load_search_spec(get_task("supercon"), "pbt", spec(rate, synch=True)).synch and not supercon.synch
    with pytest.raises(ConfigError, match=r"pbt\.synch must be true or false, got 'yes please'"):
        load_search_spec(get_task("supercon"), "pbt", spec(rate, synch="yes please"))
    linear = tmp_path / "linear.yaml"  # a one-shot fit keeps no checkpoint to clone
    linear.write_text(
        yaml.safe_dump({"model": "linear", "metric": "val_rmse", "pbt": {"space": {"seed": {"choice": [1, 2]}}}})
    )
    with pytest.raises(ConfigError, match="needs a model that checkpoints; supercon's 'linear' does not"):
        load_search_spec(get_task("supercon"), "pbt", linear)


def test_galaxy_recipe_spec_covers_the_stronger_recipes_knobs():
    """`physml tune galaxy --spec recipe`: every knob of the stronger recipe, each choice a valid config."""
    task = get_task("galaxy")
    recipe = load_search_spec(task, "bayes", "recipe")
    knobs = {"model.batch_norm", "model.global_pooling", "train.optimizer", "train.schedule", "train.loss"}
    assert knobs | {"train.label_smoothing", "train.soft_labels"} <= set(recipe.space)
    assert recipe.model == "cnn" and recipe.metric == "val_accuracy" and recipe.asha
    for key, space in recipe.space.items():
        for value in space.get("choice", []):
            task.load_config(overrides={key: value})  # a ConfigError if the value is not the key's


def test_bayes_startup_trials_set_tpe_random_draws(tmp_path):
    from physml.tuning.searchers import optuna_search

    path = tmp_path / "search.yaml"

    def spec(**section):
        space = {"dnn.units": {"randint": [10, 201]}}
        path.write_text(yaml.safe_dump({"model": "dnn", "metric": "val_rmse", "bayes": {"space": space, **section}}))
        return load_search_spec(get_task("supercon"), "bayes", path)

    short = spec(startup_trials=4)
    assert short.startup_trials == 4 and spec().startup_trials is None
    sampler = optuna_search(short.startup_trials, seed=0)._sampler  # what Optuna's TPE is given
    assert sampler._n_startup_trials == 4 and sampler._multivariate and sampler._constant_liar
    assert optuna_search(spec().startup_trials, seed=0)._sampler._n_startup_trials == 10
    with pytest.raises(ConfigError, match=r"bayes\.startup_trials must be a whole number >= 1, got 0"):
        spec(startup_trials=0)
