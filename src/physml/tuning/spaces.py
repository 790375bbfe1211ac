"""Search specs as data: projects/<task>/search.yaml -> Ray Tune spaces and searcher settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ray import tune

from physml.config.core import read_mapping
from physml.errors import ConfigError
from physml.tasks.base import MODES, Task
from physml.tuning.options import SEARCHES
from physml.tuning.searchers import SEARCHERS, float_knobs

KINDS = {
    "grid": lambda args: tune.grid_search(list(args)),
    "choice": lambda args: tune.choice(list(args)),
    "uniform": lambda args: tune.uniform(*args),
    "loguniform": lambda args: tune.loguniform(*args),
    "randint": lambda args: tune.randint(*args),
    "qrandint": lambda args: tune.qrandint(*args),
}


@dataclass
class SearchSpec:
    task: str
    kind: str  # grid | bayes | pbt
    metric: str
    mode: str
    space: dict[str, dict[str, Any]]  # dotted config key -> {kind: args}, as written
    fixed: dict[str, Any] = field(default_factory=dict)
    num_samples: int = 1
    asha: dict[str, Any] | None = None
    model: str | None = None
    perturbation_interval: int = 2  # pbt: epochs between exploit/explore steps
    synch: bool = False  # pbt: every trial waits at each interval (perturbations at each one, for sure)
    # bayes: trials the searcher draws at random before it models the space (None: 10, Optuna's
    # default); a short budget wants fewer
    startup_trials: int | None = None
    searcher: str = "tpe"  # bayes: tpe (Optuna) or gp (a Gaussian process); tuning/searchers.py

    def tune_space(self) -> dict[str, Any]:
        return {key: to_tune(key, spec) for key, spec in self.space.items()}


def to_tune(key: str, spec: dict[str, Any]):
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in KINDS:
        raise ConfigError(f"search space {key!r}: write one of {sorted(KINDS)} with its arguments, got {spec!r}")
    kind, args = next(iter(spec.items()))
    try:
        return KINDS[kind](args)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"search space {key!r}: bad arguments for {kind}: {args!r} ({exc})") from None


TOP_KEYS = ("model", "metric", "mode", *SEARCHES)
SECTION_KEYS = (
    "space",
    "fixed",
    "num_samples",
    "asha",
    "perturbation_interval",
    "synch",
    "startup_trials",
    "searcher",
)
PBT_KINDS = ("choice", "uniform", "loguniform", "randint", "qrandint")  # what PBT can resample
ASHA_KEYS = ("grace_period", "reduction_factor")


def check_keys(path: Path, where: str, tree: dict, known: tuple[str, ...]) -> None:
    unknown = sorted(set(tree) - set(known))
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r}{where}; known keys: {', '.join(known)}")


def spec_file(task: Task, spec: str | Path | None) -> Path:
    """A spec given as a file, or by name (`gbm` -> projects/<task>/search_gbm.yaml); None: search.yaml."""
    if spec is None or str(spec).endswith((".yaml", ".yml")) or "/" in str(spec):
        return Path(spec) if spec else task.search_spec_path()
    path = task.search_spec_path(str(spec))
    if not path.exists():
        names = ", ".join(task.search_spec_names()) or "none"
        raise ConfigError(f"{task.name} has no search spec named {spec!r} ({path}); named specs: {names}")
    return path


def load_search_spec(task: Task, kind: str, path: str | Path | None = None) -> SearchSpec:
    """A search of `task`'s spec (default projects/<task>/search.yaml), checked key by key. The
    model defaults to the task's search model; the mode, when the spec omits it, is the metric's
    declared direction, and one that contradicts it is an error."""
    path = spec_file(task, path)
    tree = read_spec(path)
    section = search_section(path, tree, kind)
    num_samples = section.get("num_samples", 1)
    check_whole_number(path, f"{kind}.num_samples", num_samples)
    model = spec_model(path, task, tree)
    metric, mode = spec_metric(path, task, tree)
    interval = section.get("perturbation_interval", 2)
    check_whole_number(path, f"{kind}.perturbation_interval", interval)
    synch = section.get("synch", False)
    if not isinstance(synch, bool):
        raise ConfigError(f"{path}: {kind}.synch must be true or false, got {synch!r}")
    startup = section.get("startup_trials")
    if startup is not None:
        check_whole_number(path, f"{kind}.startup_trials", startup)
    searcher = spec_searcher(path, kind, section)
    if kind == "pbt":
        check_pbt(path, task, model, section["space"])
    spec = SearchSpec(
        task=task.name,
        kind=kind,
        metric=metric,
        mode=mode,
        space=section["space"],
        fixed=section.get("fixed") or {},
        num_samples=num_samples,
        asha=section.get("asha"),
        model=model,
        perturbation_interval=interval,
        synch=synch,
        startup_trials=startup,
        searcher=searcher,
    )
    space = spec.tune_space()  # fail early on a malformed space
    if searcher == "gp":
        float_knobs(space)  # and on one a Gaussian process cannot search
    return spec


def read_spec(path: Path) -> dict[str, Any]:
    """The spec file's YAML: a mapping of known top-level keys."""
    shape = "a search spec is a mapping (model, metric, grid/bayes/pbt sections)"
    tree = read_mapping(path, f"search spec not found: {path}", shape)
    check_keys(path, "", tree, TOP_KEYS)
    return tree


def search_section(path: Path, tree: dict[str, Any], kind: str) -> dict[str, Any]:
    """The spec's section for this kind of search: a non-empty space and known keys (ASHA's too)."""
    if kind not in tree:
        raise ConfigError(f"{path} has no {kind!r} search; it has {[k for k in tree if k in SEARCHES]}")
    section = tree[kind]
    if not isinstance(section, dict) or not isinstance(section.get("space"), dict) or not section["space"]:
        raise ConfigError(f"{path}: the {kind!r} search needs a 'space' mapping config keys to their values")
    check_keys(path, f" in the {kind!r} search", section, SECTION_KEYS)
    check_keys(path, f" in {kind}.asha", section.get("asha") or {}, ASHA_KEYS)
    return section


def check_whole_number(path: Path, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{path}: {name} must be a whole number >= 1, got {value!r}")


def spec_model(path: Path, task: Task, tree: dict[str, Any]) -> str:
    """The model the spec names; else the task's search model, or its only model."""
    model = tree.get("model") or task.search_model or (task.models[0] if len(task.models) == 1 else None)
    if model not in task.models:
        raise ConfigError(
            f"{path}: 'model' must name one of {task.name}'s models ({', '.join(task.models)}), got {model!r}"
        )
    return model


def spec_metric(path: Path, task: Task, tree: dict[str, Any]) -> tuple[str, str]:
    """The metric and its mode: the task's declared direction, which a written mode must agree with."""
    metric = tree.get("metric")
    if not metric:
        raise ConfigError(f"{path}: 'metric' is missing")
    declared = task.metric_mode(metric)  # an undeclared metric (a typo) is an error naming it
    mode = tree.get("mode") or declared
    if mode not in MODES:
        raise ConfigError(f"{path}: 'mode' must be min or max, got {mode!r}")
    if mode != declared:
        raise ConfigError(f"{path}: mode {mode!r} contradicts {task.name}'s direction for {metric!r} ({declared})")
    return metric, mode


def spec_searcher(path: Path, kind: str, section: dict[str, Any]) -> str:
    """The bayes search's model of the space (tpe by default); other searches name none."""
    searcher = section.get("searcher", "tpe")
    if kind != "bayes" and "searcher" in section:
        raise ConfigError(f"{path}: 'searcher' belongs to the bayes search, not to {kind!r}")
    if searcher not in SEARCHERS:
        raise ConfigError(f"{path}: bayes.searcher must be one of {', '.join(SEARCHERS)}, got {searcher!r}")
    return searcher


def check_pbt(path: Path, task: Task, model: str, space: dict[str, Any]) -> None:
    """Population-based training restarts trials from other trials' checkpoints under new values:
    the model must checkpoint, and each key must be one a checkpoint can take (the task's pbt_keys)."""
    if model not in task.resumable_models:
        raise ConfigError(f"{path}: a pbt search needs a model that checkpoints; {task.name}'s {model!r} does not")
    for key, spec in space.items():
        if key not in task.pbt_keys:
            allowed = ", ".join(task.pbt_keys) or "none"
            raise ConfigError(f"{path}: pbt cannot change {key!r} mid-training (it can: {allowed})")
        if isinstance(spec, dict) and next(iter(spec), None) not in PBT_KINDS:
            raise ConfigError(f"{path}: pbt space {key!r}: write one of {', '.join(PBT_KINDS)}, got {spec!r}")


def edge_values(spec: dict[str, Any]) -> list[Any]:
    """The values a space can take at its edges (every value of a grid or choice)."""
    kind, args = next(iter(spec.items()))
    if kind in ("grid", "choice"):
        return list(args)
    if kind == "randint":
        return [args[0], args[1] - 1]  # the upper bound is exclusive
    return [args[0], args[1]]


def validate_search(task: Task, spec: SearchSpec, fixed: dict[str, Any], preset: str | None) -> None:
    """Every fixed key and every value a space can take, checked by the task's own config validator
    (types and ranges), before Ray starts or any run opens."""
    try:
        task.load_config(preset=preset, overrides=fixed)
    except ConfigError as exc:
        raise ConfigError(f"search spec, fixed settings: {exc}") from None
    for key, space in spec.space.items():
        kind, args = next(iter(space.items()))
        if kind in ("uniform", "loguniform", "randint", "qrandint") and not (
            isinstance(args, list) and len(args) >= 2 and all(isinstance(a, (int, float)) for a in args[:2])
        ):
            raise ConfigError(f"search space {key!r}: {kind} needs [low, high] numbers, got {args!r}")
        if kind in ("uniform", "loguniform", "randint", "qrandint") and not args[0] < args[1]:
            raise ConfigError(f"search space {key!r}: {kind} needs low < high, got {args!r}")
        if kind == "loguniform" and args[0] <= 0:
            raise ConfigError(f"search space {key!r}: loguniform needs a positive low bound, got {args!r}")
        for value in edge_values(space):
            try:
                task.load_config(preset=preset, overrides={**fixed, key: value})
            except ConfigError as exc:
                raise ConfigError(f"search space {key!r}, value {value!r}: {exc}") from None
