"""Compare the runs of an experiment on one metric: a table (terminal + markdown), a figure (the
runs side by side, and the metric against each key parameter), logged to a comparison run.

Key parameters are the ones whose values differ between the compared runs (what the comparison
is about; the task's `key_params` first), unless the user names them. Besides the ranking metric,
the table shows the task's headline metrics. Comparison runs carry the tag physml.kind=comparison and
are never compared themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Run

from physml.display import text_table
from physml.errors import PhysmlError
from physml.judging.directions import direction_words, metric_mode
from physml.tasks import registered
from physml.tracking.runs import log_figure, use_experiment

KIND_TAG = "physml.kind"
MAX_KEY_PARAMS = 6
MAX_RUNS = 5000


@dataclass
class Comparison:
    experiment: str
    metric: str
    mode: str  # min | max: the metric's direction, declared by the runs' task
    runs: list[Run]
    params: list[str]
    metrics: list[str]

    def rows(self) -> list[list[str]]:
        rows = []
        for rank, run in enumerate(self.runs, 1):
            values = [_fmt(run.data.metrics.get(m)) for m in self.metrics]
            params = [run.data.params.get(p, "-") for p in self.params]
            rows.append([str(rank), run.info.run_name or run.info.run_id[:8], *values, *params, run.info.run_id])
        return rows

    @property
    def header(self) -> list[str]:
        return ["#", "run", *self.metrics, *self.params, "run id"]

    def text(self) -> str:
        return text_table(self.header, self.rows())

    def markdown(self) -> str:
        from physml.display import markdown_table

        title = f"# {self.experiment}: top {len(self.runs)} runs by {self.metric} ({direction_words(self.mode)})"
        return f"{title}\n\n{markdown_table(self.header, self.rows())}\n"


def _fmt(value: float | None) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4g}"


def select(
    client: MlflowClient,
    experiment: str,
    metric: str | None,
    top: int,
    params: list[str] | None = None,
    mode: str | None = None,
) -> Comparison:
    """The `top` finished runs of `experiment` by `metric`, best first; the direction comes from the
    runs' task (`mode` overrides it)."""
    found = client.get_experiment_by_name(experiment)
    if found is None:
        names = ", ".join(sorted(e.name for e in client.search_experiments()))
        raise PhysmlError(f"no experiment named {experiment!r} on {mlflow.get_tracking_uri()} (there are: {names})")
    if top < 1:
        raise PhysmlError(f"--top must be at least 1, got {top}")
    finished = "attributes.status = 'FINISHED'"

    def ranked(direction: str) -> list[Run]:  # the server sorts; runs without the metric come last
        found_runs = client.search_runs(
            [found.experiment_id],
            filter_string=finished,
            max_results=MAX_RUNS,
            order_by=[f"metrics.`{metric}` {direction}"],
        )
        return [r for r in found_runs if metric in r.data.metrics and r.data.tags.get(KIND_TAG) != "comparison"]

    metric = metric or default_metric(client.search_runs([found.experiment_id], finished, max_results=200))
    ascending = ranked("ASC")
    if not ascending:
        raise PhysmlError(f"no finished run in {experiment!r} has the metric {metric!r}")
    tasks = [registered().get(name) for name in {r.data.tags.get("task") for r in ascending}]
    tasks = [task for task in tasks if task is not None]
    mode = metric_mode(metric, [task.name for task in tasks], mode)
    runs = (ascending if mode == "min" else ranked("DESC"))[:top]
    first_params = {p for task in tasks for p in task.key_params}
    if params is None:
        names = sorted({p for r in runs for p in r.data.params}, key=lambda p: (p not in first_params, p))
        varying = [p for p in names if len({r.data.params.get(p) for r in runs}) > 1 and not p.startswith("search.")]
        params = varying[:MAX_KEY_PARAMS]
    headline = [m for task in tasks for m in task.headline] + ["fit_seconds"]
    others = list(dict.fromkeys(m for m in headline if m != metric and any(m in r.data.metrics for r in runs)))
    metrics = [metric, *others]
    return Comparison(experiment, metric, mode, runs, params, metrics)


def default_metric(runs: list[Run]) -> str:
    """The first headline metric of the task the runs belong to (the most common `task` tag)."""
    from collections import Counter

    counts = Counter(r.data.tags.get("task") for r in runs if r.data.tags.get("task") in registered())
    if not counts:
        raise PhysmlError("no run here belongs to a registered task: pass --metric")
    task = registered()[counts.most_common(1)[0][0]]
    if not task.headline:
        raise PhysmlError(f"task {task.name!r} names no headline metric: pass --metric")
    return task.headline[0]


def _as_number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def figure(comparison: Comparison):
    """First the runs side by side (with the bootstrap 95% CI where logged), then the metric
    against each key parameter that all runs have (log axis when its values span decades)."""
    metric, runs = comparison.metric, comparison.runs
    # a param only some runs have (another model's hyperparameter) is in the table, not plotted
    plotted = [p for p in comparison.params if all(p in r.data.params for r in runs)]
    panels = 1 + len(plotted)
    cols = min(panels, 3)
    rows = math.ceil(panels / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.2 * rows), squeeze=False)
    flat = axes.ravel()
    labels = [f"{r.info.run_name or ''} ({r.info.run_id[:6]})" for r in runs]
    values = [r.data.metrics[metric] for r in runs]
    low = [r.data.metrics.get(f"{metric}_ci_low", v) for r, v in zip(runs, values)]
    high = [r.data.metrics.get(f"{metric}_ci_high", v) for r, v in zip(runs, values)]
    ax = flat[0]
    positions = range(len(runs))
    ax.barh(
        positions,
        values,
        xerr=[[v - lo for v, lo in zip(values, low)], [hi - v for v, hi in zip(values, high)]],
        color="tab:blue",
        alpha=0.8,
        capsize=3,
    )
    ax.set_yticks(list(positions), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(metric)
    ax.set_title(f"top {len(runs)} by {metric} ({direction_words(comparison.mode)})")
    if min(values) > 0 and comparison.mode == "max":
        ax.set_xlim(min(low) * 0.95, max(high) * 1.01)
    for ax, param in zip(flat[1:], plotted):
        raw = [r.data.params.get(param) for r in runs]
        numbers = [_as_number(v) for v in raw]
        if all(n is not None for n in numbers):
            ax.scatter(numbers, values, color="tab:orange")
            if min(numbers) > 0 and max(numbers) / min(numbers) > 100:
                ax.set_xscale("log")
        else:
            categories = sorted({str(v) for v in raw})
            ax.scatter([categories.index(str(v)) for v in raw], values, color="tab:green")
            ax.set_xticks(range(len(categories)), categories, rotation=30, ha="right", fontsize=8)
        ax.set_xlabel(param)
        ax.set_ylabel(metric)
    for ax in flat[panels:]:
        ax.axis("off")
    fig.suptitle(f"{comparison.experiment}: {metric}")
    fig.tight_layout()
    return fig


def log_comparison(comparison: Comparison) -> str:
    """A comparison run in the same experiment: table (markdown + CSV-like text), figure, the ids compared."""
    use_experiment(comparison.experiment)
    tags = {KIND_TAG: "comparison", "physml.compared_runs": ",".join(r.info.run_id for r in comparison.runs)}
    with mlflow.start_run(run_name=f"compare-{comparison.metric}", tags=tags) as run:
        mlflow.log_params(
            {"metric": comparison.metric, "top": len(comparison.runs), "key_params": ",".join(comparison.params) or "-"}
        )
        best = comparison.runs[0].data.metrics[comparison.metric]
        mlflow.log_metric(f"best_{comparison.metric}", best)
        mlflow.log_text(comparison.markdown(), "comparison/table.md")
        log_figure(figure(comparison), "comparison/comparison.png")
    return run.info.run_id


@dataclass
class SeedGroup:
    """Runs that differ only by their seed (and what the seed decides, such as the split's digest)."""

    key: dict[str, str]  # the grouping params' values
    runs: list[Run]

    def values(self, metric: str) -> list[float]:
        return [r.data.metrics[metric] for r in self.runs if metric in r.data.metrics]


def seed_determined(runs: list[Run], param: str, seed_param: str) -> bool:
    """`param` varies, but never between runs of one seed: the seed decides it (a split digest)."""
    by_seed: dict[str, set[str | None]] = {}
    for run in runs:
        by_seed.setdefault(run.data.params.get(seed_param, ""), set()).add(run.data.params.get(param))
    return all(len(values) == 1 for values in by_seed.values())


def over_seeds(comparison: Comparison, by: list[str] | None = None, seed_param: str = "seed") -> list[SeedGroup]:
    """The compared runs grouped by the params in `by` (default: those that vary between the runs,
    other than the seed and what it decides), best group mean first."""
    runs = comparison.runs
    if by is None:
        names = sorted({p for r in runs for p in r.data.params})
        varying = [p for p in names if len({r.data.params.get(p) for r in runs}) > 1 and p != seed_param]
        by = [p for p in varying if not seed_determined(runs, p, seed_param) and not p.startswith("search.")]
    groups: dict[tuple, SeedGroup] = {}
    for run in runs:
        key = tuple(run.data.params.get(p, "-") for p in by)
        groups.setdefault(key, SeedGroup(dict(zip(by, key)), [])).runs.append(run)
    ordered = sorted(groups.values(), key=lambda g: mean_and_interval(g.values(comparison.metric))[0])
    return ordered if comparison.mode == "min" else ordered[::-1]


def mean_and_interval(values: list[float]) -> tuple[float, float, float, float]:
    """Mean, sample standard deviation and the 95% t-interval of the mean (NaN spread for one value)."""
    import numpy as np
    from scipy import stats

    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, math.nan, math.nan, math.nan
    sd = float(values.std(ddof=1))
    half = float(stats.t.ppf(0.975, len(values) - 1) * sd / math.sqrt(len(values)))
    return mean, sd, mean - half, mean + half


def seed_table(comparison: Comparison, groups: list[SeedGroup]) -> tuple[list[str], list[list[str]]]:
    """One row per group: its params, the seeds, and each metric as mean ± sd [95% CI of the mean]."""
    params = list(groups[0].key) if groups else []
    header = [*params, "seeds", *(f"{m} mean ± sd [95% CI]" for m in comparison.metrics)]
    rows = []
    for group in groups:
        seeds = ",".join(sorted(r.data.params.get("seed", "?") for r in group.runs))
        cells = []
        for metric in comparison.metrics:
            values = group.values(metric)
            if not values:
                cells.append("-")
                continue
            mean, sd, low, high = mean_and_interval(values)
            cells.append(f"{mean:.4g}" if math.isnan(sd) else f"{mean:.4g} ± {sd:.2g} [{low:.4g}, {high:.4g}]")
        rows.append([*group.key.values(), seeds, *cells])
    return header, rows


def anchor_table(comparison: Comparison, groups: list[SeedGroup]) -> tuple[list[str], list[list[str]]]:
    """The published figures of the runs' tasks (their anchors data) on the compared metrics, each beside
    physml's best group on the same model and split (where the groups are told apart by them): the
    group's mean and 95% interval of the mean, and the group."""
    tasks = {r.data.tags.get("task") for r in comparison.runs}
    anchors = [a for name, task in registered().items() if name in tasks for a in task.anchors()]
    header = ["published", "model", "split", "metric", "value", "physml mean [95% CI]", "physml group", "seeds"]
    rows = []
    for anchor in anchors:
        if anchor.metric not in comparison.metrics:
            continue
        matching = [
            g
            for g in groups
            if g.values(anchor.metric)
            and all(
                g.key.get(key, value) == value
                for key, value in (("model", anchor.model), ("split", anchor.split))
                if value
            )
        ]
        mode = comparison.mode if anchor.metric == comparison.metric else metric_mode(anchor.metric, tasks)
        pick = max if mode == "max" else min
        cells = ["-", "-", "-"]
        if matching:
            best = pick(matching, key=lambda g: mean_and_interval(g.values(anchor.metric))[0])
            mean, sd, low, high = mean_and_interval(best.values(anchor.metric))
            interval = "" if math.isnan(sd) else f" [{low:.4g}, {high:.4g}]"
            described = ", ".join(f"{k}={v}" for k, v in best.key.items())
            cells = [f"{mean:.4g}{interval}", described, str(len(best.values(anchor.metric)))]
        rows.append([anchor.source, anchor.model or "any", anchor.split or "any", anchor.metric, anchor.shown, *cells])
    return header, rows


def log_seed_comparison(
    comparison: Comparison, header: list[str], rows: list[list[str]], anchors: tuple | None = None
) -> str:
    """A comparison run holding the groups' table (comparison/seeds.md), and the anchors beside them."""
    from physml.display import markdown_table

    use_experiment(comparison.experiment)
    tags = {KIND_TAG: "comparison", "physml.compared_runs": ",".join(r.info.run_id for r in comparison.runs)[:5000]}
    with mlflow.start_run(run_name=f"compare-seeds-{comparison.metric}", tags=tags) as run:
        mlflow.log_params({"metric": comparison.metric, "over": "seed", "runs": len(comparison.runs)})
        title = f"# {comparison.experiment}: {comparison.metric} over seeds ({direction_words(comparison.mode)})"
        text = f"{title}\n\n{markdown_table(header, rows)}\n"
        if anchors:
            text += f"\n## Published figures beside physml's best group\n\n{markdown_table(*anchors)}\n"
        mlflow.log_text(text, "comparison/seeds.md")
    return run.info.run_id
