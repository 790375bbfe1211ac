"""Tracking overhead: supercon DNN epoch time with MLflow per-epoch logging vs none (target < 5%), for
physml's batched epoch log (what runs use), one synchronous call per epoch and MLflow's async logging;
the cost of one epoch's metric logging (per-metric calls vs one batched call vs asynchronous); and the
share of a whole real `supercon.train` run spent inside MLflow calls (artifacts at the end included).

Everything runs against the tracking server given (a real `mlflow server` over HTTP, as in a run);
the runs it makes go to the experiment `benchmark-tracking-overhead`. The variants alternate
(off, batched, every epoch, async; then rotated: batched, every epoch, async, off; ...) after a warm-up fit, so drift of a noisy machine hits all.

    python benchmarks/tracking_overhead.py [--data-dir ../shared/data] [--epochs 12] [--repeats 2] [--quick]
"""

from __future__ import annotations

import itertools
import statistics
import time
from contextlib import ExitStack
from typing import Self
from unittest import mock

import mlflow
import mlflow.pyfunc
from sklearn.preprocessing import StandardScaler

import physml.tasks.supercon.train as supercon
from physml.bench.record import BenchResult, run_benchmark, task_dir
from physml.tasks import get_task
from physml.tasks.composition.dense import DenseRegressor
from physml.tasks.supercon.data import load_supercon
from physml.tracking.epochs import EpochMetricLog

# Read by `physml bench` (physml/bench/runner.py) without importing this script:
BENCHMARK = "tracking_overhead"
BUDGET_S = 120  # what it should take on 2 CPU cores (full settings); the hard limit is twice this
SUMMARY = "epoch time with MLflow logging on vs off (< 5%)"

EXPERIMENT = "benchmark-tracking-overhead"
METRICS = {
    "loss": 0.31,
    "val_loss": 0.35,
    "train_rmse": 19.2,
    "val_rmse": 20.1,
}  # one epoch's metrics, as the net logs them


VARIANTS = {  # per-epoch logging variants, timed against no logging
    "off": "no per-epoch logging",
    "batched": "physml's EpochMetricLog: log_batch at most every 2 s (first epoch at once, rest at the end)",
    "every_epoch": "mlflow.log_metrics(metrics, step=epoch) each epoch (synchronous)",
    "async": "mlflow.log_metrics(..., synchronous=False) each epoch, flushed after the fit",
}


def timed_fit(X, y, params: dict, seed: int, variant: str) -> dict[str, float]:
    """One fit with a logging variant: `epoch_s` = (epochs after the first + the closing flush) / epochs after
    the first, `median_epoch_s`, `hook_s` (inside the hook and the flush) and `fit_s` (the whole fit)."""
    ends: list[float] = []
    in_hook = [0.0]
    batched = EpochMetricLog() if variant == "batched" else None

    def log(epoch, metrics):
        started = time.perf_counter()
        if batched is not None:
            batched(epoch, metrics)  # the hook supercon.train and galaxy.train install
        else:
            mlflow.log_metrics(metrics, step=epoch, synchronous=variant != "async")
        in_hook[0] += time.perf_counter() - started

    hooks = ([log] if variant != "off" else []) + [lambda epoch, metrics: ends.append(time.perf_counter())]
    started = time.perf_counter()
    DenseRegressor(**params, seed=seed).fit(X, y, on_epoch_end=hooks)
    flush_started = time.perf_counter()
    if batched is not None:
        batched.flush()
    elif variant == "async":
        mlflow.flush_async_logging()
    flush = time.perf_counter() - flush_started
    intervals = [b - a for a, b in itertools.pairwise(ends)]
    return {
        "epoch_s": (sum(intervals) + flush) / len(intervals),
        "median_epoch_s": statistics.median(intervals),
        "hook_s": in_hook[0] + flush,
        "fit_s": time.perf_counter() - started,
        "requests": batched.requests if batched else (0 if variant == "off" else len(ends)),
    }


def call_cost(calls: int) -> dict[str, float]:
    """Milliseconds to log one epoch's 4 metrics: 4 log_metric calls, 1 log_metrics (batched), 1 asynchronous."""
    costs = {}
    for step in range(3):  # warm the connection
        mlflow.log_metrics(METRICS, step=step)
    started = time.perf_counter()
    for step in range(calls):
        for key, value in METRICS.items():
            mlflow.log_metric(key, value, step=100 + step)
    costs["per_metric_calls_ms"] = 1e3 * (time.perf_counter() - started) / calls
    started = time.perf_counter()
    for step in range(calls):
        mlflow.log_metrics(METRICS, step=200 + step)
    costs["batched_call_ms"] = 1e3 * (time.perf_counter() - started) / calls
    started = time.perf_counter()
    for step in range(calls):
        mlflow.log_metrics(METRICS, step=300 + step, synchronous=False)
    costs["async_call_ms"] = 1e3 * (time.perf_counter() - started) / calls
    started = time.perf_counter()
    mlflow.flush_async_logging()
    costs["async_flush_ms"] = 1e3 * (time.perf_counter() - started)
    return costs


class MlflowClock:
    """Seconds spent inside MLflow's fluent logging calls (outermost call only), per function."""

    NAMES = (
        "log_metric",
        "log_metrics",
        "log_param",
        "log_params",
        "log_input",
        "log_figure",
        "log_table",
        "log_text",
        "log_dict",
        "set_tag",
        "set_tags",
    )

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.depth = 0
        self.stack = ExitStack()

    def wrap(self, name: str, function):
        def timed(*args, **kwargs):
            self.depth += 1
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.depth -= 1
                if self.depth == 0:
                    self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

        return timed

    def __enter__(self) -> Self:
        for name in self.NAMES:
            self.stack.enter_context(mock.patch.object(mlflow, name, self.wrap(name, getattr(mlflow, name))))
        self.stack.enter_context(
            mock.patch.object(mlflow.pyfunc, "log_model", self.wrap("pyfunc.log_model", mlflow.pyfunc.log_model))
        )
        return self

    def __exit__(self, *exc) -> None:
        self.stack.close()


def add_arguments(parser) -> None:
    parser.add_argument("--epochs", type=int, default=12, help="epochs per timed fit (demo preset otherwise)")
    parser.add_argument("--repeats", type=int, default=4, help="fits per variant (variants alternate, rotating)")
    parser.add_argument("--calls", type=int, default=40, help="logging calls per variant in the per-call figures")


def measure(args, result: BenchResult) -> None:
    epochs, repeats, calls = (3, 1, 10) if args.quick else (args.epochs, args.repeats, args.calls)
    config = get_task("supercon").load_config(
        preset="demo", overrides={"evaluation.explain": False, "registry.register": False}
    )
    data = load_supercon(task_dir(args, "supercon"))
    split = supercon.make_split(config, data)
    X = StandardScaler().fit_transform(split.X_train)
    y = split.y_train.to_numpy()
    params = {**config.model_params("dnn"), "epochs": epochs + 1, "progress": False}
    mlflow.set_tracking_uri(args.resolved_tracking_uri)
    experiment_id = mlflow.set_experiment(EXPERIMENT).experiment_id
    result.params.update(
        {
            "preset": "demo",
            "batch_size": config.dnn.batch_size,
            "epochs_per_fit": epochs + 1,
            "repeats": repeats,
            "tracking_uri": args.resolved_tracking_uri,
            "per_epoch_logging": "physml.tracking.epochs.EpochMetricLog (log_batch, >= 2 s apart)",
        }
    )

    DenseRegressor(**{**params, "epochs": 1}, seed=config.seed).fit(X[:2048], y[:2048])  # warm-up: TF, threads
    fits: dict[str, list[dict[str, float]]] = {variant: [] for variant in VARIANTS}
    names = list(VARIANTS)
    for round_ in range(repeats):  # variants alternate, each round in a rotated order: drift and order hit them all
        for variant in names[round_ % len(names) :] + names[: round_ % len(names)]:
            if variant == "off":
                fits[variant].append(timed_fit(X, y, params, config.seed, variant))
                continue
            with mlflow.start_run(experiment_id=experiment_id, run_name=f"epochs-logging-{variant}"):
                fits[variant].append(timed_fit(X, y, params, config.seed, variant))
    epoch = {variant: statistics.fmean(fit["epoch_s"] for fit in runs) for variant, runs in fits.items()}
    overhead = {variant: epoch[variant] / epoch["off"] - 1 for variant in VARIANTS if variant != "off"}
    hook_share = {
        variant: sum(f["hook_s"] for f in runs) / sum(f["fit_s"] for f in runs)
        for variant, runs in fits.items()
        if variant != "off"
    }
    requests = {variant: statistics.fmean(fit["requests"] for fit in runs) for variant, runs in fits.items()}
    off_epochs = [fit["epoch_s"] for fit in fits["off"]]
    spread = statistics.stdev(off_epochs) / statistics.fmean(off_epochs) if len(off_epochs) > 1 else float("nan")
    noise = f"+/- {100 * spread:.0f}% fit-to-fit noise" if len(off_epochs) > 1 else "one fit per variant: noise unknown"

    with mlflow.start_run(experiment_id=experiment_id, run_name="call-cost"):
        costs = call_cost(calls)

    full_config = get_task("supercon").load_config(
        preset="demo",
        overrides={
            "evaluation.explain": False,
            "registry.register": False,
            "dnn.epochs": 6 if args.quick else config.dnn.epochs,
        },
    )
    with mlflow.start_run(experiment_id=experiment_id, run_name="dnn-demo-full-run"), MlflowClock() as clock:
        started = time.perf_counter()
        supercon.train(full_config, "dnn", data)
        run_seconds = time.perf_counter() - started
    in_mlflow = sum(clock.seconds.values())
    model_seconds = clock.seconds.get("pyfunc.log_model", 0.0)

    result.columns = ["figure", "value", "unit"]
    result.add_row(
        "epoch time, no per-epoch logging (mean, median)",
        f"{epoch['off'] * 1e3:.0f}, {statistics.fmean(f['median_epoch_s'] for f in fits['off']) * 1e3:.0f}",
        "ms",
    )
    result.add_row(
        "  fit-to-fit spread of that epoch time (1 s.d.: the noise of the epoch-time differences)", 100 * spread, "%"
    )
    for variant in overhead:
        result.add_row(f"{VARIANTS[variant]}", "", "")
        result.add_row(
            f"  training blocked in its hook + flush / fit time ({requests[variant]:.0f} requests per fit)",
            100 * hook_share[variant],
            "%",
        )
        result.add_row("  epoch time vs no logging", 100 * overhead[variant], "%")
    result.add_row("one epoch's 4 metrics as 4 log_metric calls", costs["per_metric_calls_ms"], "ms")
    result.add_row("one epoch's 4 metrics as 1 log_metrics call (batched)", costs["batched_call_ms"], "ms")
    result.add_row("the same, log_metrics(synchronous=False)", costs["async_call_ms"], "ms")
    result.add_row(f"flush of {calls} asynchronous calls", costs["async_flush_ms"], "ms")
    result.add_row(f"whole supercon.train(dnn, demo, {full_config.dnn.epochs} epochs, no SHAP)", run_seconds, "s")
    result.add_row("  of which inside MLflow calls", in_mlflow, "s")
    result.add_row("  of which mlflow.pyfunc.log_model (the model + code + requirements)", model_seconds, "s")
    result.add_row("  share of the whole run inside MLflow calls", 100 * in_mlflow / run_seconds, "%")
    result.metrics.update(
        {
            "epoch_ms_logging_off": epoch["off"] * 1e3,
            "full_run_seconds": run_seconds,
            "full_run_mlflow_seconds": in_mlflow,
            "full_run_mlflow_share_pct": 100 * in_mlflow / run_seconds,
            "log_model_seconds": model_seconds,
            **costs,
        }
    )
    for variant in overhead:
        result.metrics.update(
            {
                f"epoch_ms_{variant}": epoch[variant] * 1e3,
                f"epoch_overhead_pct_{variant}": 100 * overhead[variant],
                f"hook_share_pct_{variant}": 100 * hook_share[variant],
                f"requests_per_fit_{variant}": requests[variant],
            }
        )
    result.metrics.update(
        {
            "epoch_overhead_pct": 100 * overhead["batched"],
            "blocked_pct": 100 * hook_share["batched"],
            "epoch_time_spread_pct": 100 * spread,
        }
    )
    result.metrics.update({f"mlflow_seconds.{name}": value for name, value in clock.seconds.items()})
    result.check(
        "training blocked by per-epoch logging, physml's batched log",
        100 * hook_share["batched"],
        "< 5%",
        hook_share["batched"] < 0.05,
    )
    result.check("epoch time with it vs none (cross-check)", 100 * overhead["batched"], f"informational: {noise}", None)
    result.check("blocked, synchronous log_metrics every epoch", 100 * hook_share["every_epoch"], "informational", None)
    result.check("blocked, MLflow async logging (its flush included)", 100 * hook_share["async"], "informational", None)
    result.check(
        "whole run inside MLflow calls (artifacts + model)", 100 * in_mlflow / run_seconds, "informational", None
    )
    result.headline = (
        f"training blocked by per-epoch logging: {100 * hook_share['batched']:.1f}% batched (physml), "
        f"{100 * hook_share['every_epoch']:.1f}% one call per epoch, {100 * hook_share['async']:.1f}% async; "
        f"epoch time {100 * overhead['batched']:+.1f}% ({noise}); "
        f"whole run {100 * in_mlflow / run_seconds:.0f}% in MLflow"
    )
    result.notes += [
        (
            f"{repeats} fit(s) per variant of {epochs + 1} epochs (demo preset: batch {config.dnn.batch_size}), variants "
            "alternating; epoch time = (all epochs after the first + the flush after the fit) / epochs, averaged over fits; "
            "a difference smaller than the hook's own share is within the noise"
        ),
        (
            "the whole-run share counts every mlflow.* logging call in supercon.train (params, dataset input, per-epoch "
            "metrics, 4 figures, the predictions table, the model with physml's source); SHAP is off (compute, not tracking)"
        ),
    ]


if __name__ == "__main__":
    run_benchmark(
        BENCHMARK, "MLflow tracking overhead: epoch time with per-epoch logging on vs off", measure, add_arguments
    )
