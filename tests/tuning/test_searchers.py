"""The gp searcher: knobs encoded as floats and read back, a spec that names it, and a search that
learns (Tune's BayesOptSearch on the real `bayesian-optimization` package, no Ray cluster needed)."""

import math

import pytest
import yaml
from ray import tune

from physml.errors import ConfigError
from physml.tasks import get_task
from physml.tuning.searchers import GaussianProcessSearch, float_knob
from physml.tuning.spaces import load_search_spec
from physml.tuning.summary import searcher_text


def test_each_kind_of_knob_reads_back_inside_its_range():
    rate = float_knob("lr", tune.loguniform(1e-5, 1e-2))
    assert (rate.low, rate.high) == (-5, -2) and math.isclose(rate.value(-3.0), 1e-3)
    units = float_knob("units", tune.randint(10, 201))  # upper bound exclusive
    assert (units.low, units.high) == (10, 200)
    assert [units.value(x) for x in (10.0, 57.4, 57.6, 200.0, 999.0)] == [10, 57, 58, 200, 200]
    batch = float_knob("batch", tune.qrandint(32, 512, 32))  # a multiple of 32, up to 512
    assert {batch.value(x) for x in (32.0, 47.0, 49.0, 512.0)} == {32, 64, 512}
    optimiser = float_knob("optimiser", tune.choice(["sgd", "adam", "adamw"]))
    assert [optimiser.value(x) for x in (0.0, 1.5, 2.99, 3.0)] == ["sgd", "adam", "adamw", "adamw"]
    dropout = float_knob("dropout", tune.uniform(0.0, 0.5))
    assert dropout.value(0.25) == 0.25 and type(dropout.value(0.25)) is float


def spec_file(tmp_path, space, **section):
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump({"model": "dnn", "metric": "val_rmse", "bayes": {"space": space, **section}}))
    return path


SPACE = {
    "dnn.units": {"randint": [10, 201]},
    "dnn.layers": {"randint": [2, 4]},
    "dnn.learning_rate": {"loguniform": [1e-5, 1e-2]},
}


def test_a_spec_names_its_searcher_and_a_bad_one_stops_before_ray(tmp_path):
    task = get_task("supercon")
    gp = load_search_spec(task, "bayes", spec_file(tmp_path, SPACE, searcher="gp", startup_trials=4))
    assert gp.searcher == "gp" and searcher_text(gp).startswith("BayesOptSearch")
    assert searcher_text(load_search_spec(task, "bayes", spec_file(tmp_path, SPACE))) == "OptunaSearch (TPE)"
    with pytest.raises(ConfigError, match=r"bayes.searcher must be one of tpe, gp, got 'cmaes'"):
        load_search_spec(task, "bayes", spec_file(tmp_path, SPACE, searcher="cmaes"))
    grid = {**SPACE, "dnn.batch_size": {"grid": [32, 64]}}
    with pytest.raises(
        ConfigError, match=r"search space 'dnn.batch_size': the gp searcher searches ranges and choices"
    ):
        load_search_spec(task, "bayes", spec_file(tmp_path, grid, searcher="gp"))
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump({"model": "dnn", "metric": "val_rmse", "grid": {"space": SPACE, "searcher": "gp"}}))
    with pytest.raises(ConfigError, match=r"'searcher' belongs to the bayes search, not to 'grid'"):
        load_search_spec(task, "grid", path)


BOWL = {"dnn.units": tune.randint(10, 201), "dnn.learning_rate": tune.loguniform(1e-5, 1e-2)}


def loss(config) -> float:
    """A bowl with its floor at 150 units and a learning rate of 1e-3, each knob scaled to its range."""
    return ((config["dnn.units"] - 150) / 190) ** 2 + ((math.log10(config["dnn.learning_rate"]) + 3) / 3) ** 2


def run(searcher: GaussianProcessSearch, trials: range) -> list[float]:
    losses = []
    for trial in trials:
        config = searcher.suggest(str(trial))
        assert isinstance(config["dnn.units"], int) and 10 <= config["dnn.units"] <= 200
        assert 1e-5 <= config["dnn.learning_rate"] <= 1e-2
        losses.append(loss(config))
        searcher.on_trial_complete(str(trial), {"val_rmse": losses[-1]})
    return losses


def test_the_gaussian_process_learns_after_its_random_draws_and_resumes_from_a_save(tmp_path):
    searcher = GaussianProcessSearch(startup_trials=4, seed=0)
    assert searcher.set_search_properties("val_rmse", "min", BOWL)
    losses = run(searcher, range(12))
    assert min(losses[4:]) < min(losses[:4]) / 5 and min(losses) < 0.01, losses  # modelled beat random

    searcher.save(str(tmp_path / "searcher.pkl"))
    restored = GaussianProcessSearch(startup_trials=4, seed=0)
    restored.restore(str(tmp_path / "searcher.pkl"))
    assert restored.set_search_properties("val_rmse", "min", BOWL)
    assert restored.suggest("12") == searcher.suggest("12")  # the same process, the same next point


def test_trials_side_by_side_get_points_of_their_own_and_the_search_never_ends_early():
    """Tune asks for a trial every time round its loop. Past the random draws, an ask made while trials
    run gets a point of its own (the running ones count as the worst result so far), or None (wait);
    never the running point again, and the search never ends as 'converged' (Searcher.FINISHED)."""
    searcher = GaussianProcessSearch(startup_trials=2, seed=0)
    searcher.set_search_properties("val_rmse", "min", BOWL)
    first, second = searcher.suggest("0"), searcher.suggest("1")  # the random draws run side by side
    assert first != second and searcher.suggest("2") is None  # the model waits for both results
    for trial, config in (("0", first), ("1", second)):
        searcher.on_trial_complete(trial, {"val_rmse": loss(config)})
    running = {str(trial): searcher.suggest(str(trial)) for trial in range(2, 22)}  # 20 asks, none reported
    handed = [config for config in running.values() if config is not None]
    assert len(handed) >= 2 and all(isinstance(config, dict) for config in handed), running
    points = [tuple(sorted(config.items())) for config in handed]
    assert len(set(points)) == len(points)  # each slot its own point
    for trial, config in running.items():
        if config is not None:
            searcher.on_trial_complete(trial, {"val_rmse": loss(config)})
    assert isinstance(searcher.suggest("22"), dict)


def test_two_slots_still_learn():
    """Two trials at a time, each pair suggested before either reports: the modelled pairs beat the
    random draws, as one at a time does."""
    searcher = GaussianProcessSearch(startup_trials=4, seed=0)
    searcher.set_search_properties("val_rmse", "min", BOWL)
    losses = []
    for pair in range(0, 16, 2):
        configs = {str(t): searcher.suggest(str(t)) for t in (pair, pair + 1)}
        assert all(isinstance(c, dict) for c in configs.values()), (pair, configs)
        for trial, config in configs.items():
            losses.append(loss(config))
            searcher.on_trial_complete(trial, {"val_rmse": losses[-1]})
    assert min(losses[4:]) < min(losses[:4]) / 5 and min(losses) < 0.01, losses
