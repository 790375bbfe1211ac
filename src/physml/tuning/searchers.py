"""The model-based searchers of a `bayes` search, chosen by the spec's `searcher`.

tpe (the default): Optuna's tree-structured Parzen estimator. gp: a Gaussian process with an upper
confidence bound (the `bayesian-optimization` package through Tune's BayesOptSearch), the method of
KerasTuner's BayesianOptimization. It models a few smooth knobs well from few trials, which is where
TPE's first draws are mostly random. BayesOptSearch takes only float ranges, so `GaussianProcessSearch`
hands it each knob as a float (a log-uniform one as its log10, an integer or a choice as a range that
is rounded back) and gives Tune the knob's own values: trial runs, tables and the retrained best all
see the real settings.
"""

from __future__ import annotations

import contextlib
import copy
import math
import pickle
import warnings
from dataclasses import dataclass
from typing import Any

from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch
from ray.tune.search.sample import Categorical, Domain, Float, Integer, LogUniform, Quantized

from physml.errors import ConfigError

STARTUP_TRIALS = 10  # random draws before the model takes over, when the spec does not say (Optuna's default)
SEARCHERS = ("tpe", "gp")


def optuna_search(startup_trials: int | None, seed: int) -> OptunaSearch:
    """Optuna's TPE, seeded, after `startup_trials` random draws. Multivariate: one density over all the
    knobs, so it learns how they go together (a learning rate that suits a width) instead of each alone.
    Constant liar: a trial still running counts as a poor result, so trials that run at once are not
    drawn from the same spot."""
    import optuna

    with warnings.catch_warnings():  # both options are marked experimental since Optuna 2.x/3.x
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(
            seed=seed,
            n_startup_trials=startup_trials or STARTUP_TRIALS,
            multivariate=True,
            constant_liar=True,
        )
    return OptunaSearch(sampler=sampler)


@dataclass(frozen=True)
class FloatKnob:
    """One knob as the Gaussian process sees it: a float in [low, high], and how to read it back."""

    low: float
    high: float
    scale: str = "linear"  # linear | log10 | integer | choice
    step: float = 1  # integer: the multiple a value is rounded to
    choices: tuple[Any, ...] = ()

    def value(self, x: float) -> Any:
        x = min(max(float(x), self.low), self.high)
        if self.scale == "log10":
            return 10.0**x
        if self.scale == "integer":
            return int(self.low + round((x - self.low) / self.step) * self.step)
        if self.scale == "choice":
            return self.choices[min(int(x), len(self.choices) - 1)]
        return x


def float_knob(key: str, domain: Any) -> FloatKnob:
    """A Tune domain as a float range; a ConfigError for what a Gaussian process cannot search."""
    if not isinstance(domain, Domain):
        raise ConfigError(f"search space {key!r}: the gp searcher searches ranges and choices, got {domain!r}")
    sampler = domain.get_sampler()
    step = sampler.q if isinstance(sampler, Quantized) else 1
    base = sampler.get_sampler() if isinstance(sampler, Quantized) else sampler
    if isinstance(domain, Categorical):
        if len(domain.categories) < 2:
            raise ConfigError(f"search space {key!r}: a choice needs two values or more")
        return FloatKnob(0.0, float(len(domain.categories)), "choice", choices=tuple(domain.categories))
    if isinstance(base, LogUniform):
        if isinstance(domain, Integer):
            raise ConfigError(f"search space {key!r}: the gp searcher has no log-scaled integers")
        return FloatKnob(math.log10(domain.lower), math.log10(domain.upper), "log10")
    if isinstance(domain, Integer):
        # randint's upper bound is exclusive; a quantized one (qrandint, q > 1) may reach it
        top = domain.upper if step > 1 else domain.upper - 1
        return FloatKnob(float(domain.lower), float(top), "integer", step=step)
    if isinstance(domain, Float) and not isinstance(sampler, Quantized):
        return FloatKnob(float(domain.lower), float(domain.upper))
    raise ConfigError(f"search space {key!r}: the gp searcher cannot search {domain!r}")


def float_knobs(space: dict[str, Any]) -> dict[str, FloatKnob]:
    return {key: float_knob(key, domain) for key, domain in space.items()}


class GaussianProcessSearch(Searcher):
    """Tune's BayesOptSearch over `float_knobs(space)`, seeded, after `startup_trials` random draws.

    After its random draws (run side by side) it suggests the point of highest upper confidence bound.
    That point moves only when a result comes in, so a trial asked for while others run is suggested
    with a constant liar: the running trials' points count as the worst result seen so far, in a copy
    of the process, and the next point goes elsewhere. Trials run side by side throughout, as with TPE.
    Needs `bayesian-optimization` 1.x (pinned <2 in pyproject.toml): Ray 2.60's BayesOptSearch calls
    `bayes_opt.UtilityFunction`, which 2.0 removed (ray-project/ray#49845)."""

    def __init__(self, startup_trials: int | None, seed: int, metric: str | None = None, mode: str | None = None):
        super().__init__(metric=metric, mode=mode)
        self.startup_trials = startup_trials or STARTUP_TRIALS
        self.seed = seed
        self.knobs: dict[str, FloatKnob] = {}
        self.inner = None
        self.suggested = 0  # points handed to Tune
        self.running: dict[str, dict[str, float]] = {}  # trials suggested and not yet complete: their points
        self.stalled = False  # the liar's point was one already tried: wait for a result before asking again

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec) -> bool:
        self.knobs = float_knobs(config)
        self._metric, self._mode = metric or self._metric, mode or self._mode
        if self.inner is None:  # a restored search keeps the process it had learned
            self.inner = bayes_opt_search(
                space={key: (knob.low, knob.high) for key, knob in self.knobs.items()},
                metric=self._metric,
                mode=self._mode,
                random_state=self.seed,
                random_search_steps=self.startup_trials,
            )
        return True

    def suggest(self, trial_id: str) -> dict | str | None:
        if self.suggested >= self.startup_trials and self.running:
            # Past the random draws, an ask before the running trials report would get their point
            # again. BayesOptSearch counts each such ask as a repeat and, after `patience` of them,
            # ends the whole search as converged; Tune asks every time round its loop, so a search
            # with two slots ended after 4 of 8 trials (seen with Ray 2.60). Lie instead, or wait
            # while the random draws' results are still out or the lie found nothing new.
            if self.stalled or not len(self.inner.optimizer.space):
                return None
            point = self.suggest_lying(trial_id)
            self.stalled = point is None
        else:
            point = self.inner.suggest(trial_id)
        if not isinstance(point, dict):
            return point  # None: wait for a result; Searcher.FINISHED: the process has converged
        self.suggested += 1
        self.running[trial_id] = dict(point)
        return {key: self.knobs[key].value(x) for key, x in point.items()}

    def suggest_lying(self, trial_id: str) -> dict | str | None:
        """The inner search's next point from a copy of its process in which every running trial has
        already scored the worst result seen (a constant liar, Ginsbourger et al. 2010)."""
        from bayes_opt.util import NotUniqueError

        real = self.inner.optimizer
        lied = copy.deepcopy(real)
        worst = float(lied.space.target.min())  # the process maximises: targets are -val_rmse for min
        for point in self.running.values():
            with contextlib.suppress(NotUniqueError):  # a running point tried before already has a score
                lied.register(params=point, target=worst)
        self.inner.optimizer = lied
        try:
            return self.inner.suggest(trial_id)
        finally:
            self.inner.optimizer = real

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self.running.pop(trial_id, None)
        self.stalled = False
        self.inner.on_trial_complete(trial_id, result=result, error=error)

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as file:
            own = {"knobs": self.knobs, "suggested": self.suggested, "running": self.running, "stalled": self.stalled}
            pickle.dump({**own, "inner": self.inner.get_state()}, file)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as file:
            state = pickle.load(file)
        self.knobs, self.suggested, self.running = state["knobs"], state["suggested"], state["running"]
        if not isinstance(self.running, dict):  # saved before the constant liar: trial ids without points
            self.running = {}
        self.stalled = state.get("stalled", False)
        self.inner = self.inner or bayes_opt_search()
        self.inner.set_state(state["inner"])


def bayes_opt_search(**settings):
    from ray.tune.search.bayesopt import BayesOptSearch

    return BayesOptSearch(**settings)


def bayes_searcher(name: str, startup_trials: int | None, seed: int) -> Searcher:
    if name == "gp":
        return GaussianProcessSearch(startup_trials, seed)
    return optuna_search(startup_trials, seed)
