"""Tracking overhead: supercon DNN epoch time with MLflow per-epoch logging on vs off (target < 5%),
the cost of one epoch's metric logging (per-metric calls vs one batched call vs asynchronous), and
the share of a whole real `supercon.train` run spent inside MLflow calls (artifacts at the end included).

Everything runs against the tracking server given (a real `mlflow server` over HTTP, as in a run);
the runs it makes go to the experiment `benchmark-tracking-overhead`. On vs off alternate
(off, on, off, on) after a warm-up fit, and the median epoch time (first epoch left out) of each
side is compared, so drift of a noisy machine hits both sides.

    python benchmarks/tracking_overhead.py [--data-dir ../shared/data] [--epochs 8] [--repeats 2] [--quick]
"""

from __future__ import annotations

import itertools
import statistics
import time
from contextlib import ExitStack
from typing import Self
from unittest import mock

import mlflow
import mlflow.sklearn
from sklearn.preprocessing import StandardScaler

from physml.bench.record import BenchResult, run_benchmark, task_dir
from physml.config import load_supercon_config
from physml.data.supercon import load_supercon
from physml.models.dense import DenseRegressor
from physml.tasks import supercon

EXPERIMENT = "benchmark-tracking-overhead"
METRICS = {"loss": 0.31, "val_loss": 0.35, "train_rmse": 19.2, "val_rmse": 20.1}  # one epoch's metrics, as the net logs them


def timed_fit(X, y, params: dict, seed: int, logging: bool) -> tuple[list[float], float, float]:
    """(epoch intervals after the first, seconds inside the logging hook, fit seconds)."""
    ends: list[float] = []
    in_hook = [0.0]

    def log(epoch, metrics):
        started = time.perf_counter()
        supercon.log_epoch(epoch, metrics)  # the hook supercon.train installs
        in_hook[0] += time.perf_counter() - started

    hooks = ([log] if logging else []) + [lambda epoch, metrics: ends.append(time.perf_counter())]
    started = time.perf_counter()
    DenseRegressor(**params, seed=seed).fit(X, y, on_epoch_end=hooks)
    fit_seconds = time.perf_counter() - started
    return [b - a for a, b in itertools.pairwise(ends)], in_hook[0], fit_seconds


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

    NAMES = ("log_metric", "log_metrics", "log_param", "log_params", "log_input", "log_figure", "log_table", "log_text",
             "log_dict", "set_tag", "set_tags")  # fmt: skip

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
        self.stack.enter_context(mock.patch.object(mlflow.sklearn, "log_model", self.wrap("sklearn.log_model", mlflow.sklearn.log_model)))
        return self

    def __exit__(self, *exc) -> None:
        self.stack.close()


def add_arguments(parser) -> None:
    parser.add_argument("--epochs", type=int, default=8, help="epochs per timed fit (demo preset otherwise)")
    parser.add_argument("--repeats", type=int, default=2, help="fits per side (on / off), alternating")
    parser.add_argument("--calls", type=int, default=40, help="logging calls per variant in the per-call figures")


def measure(args, result: BenchResult) -> None:
    epochs, repeats, calls = (3, 1, 10) if args.quick else (args.epochs, args.repeats, args.calls)
    config = load_supercon_config(preset="demo", overrides={"evaluation.explain": False, "registry.register": False})
    data = load_supercon(task_dir(args, "supercon"))
    split = supercon.make_split(config, data)
    X = StandardScaler().fit_transform(split.X_train)
    y = split.y_train.to_numpy()
    params = {**config.model_params("dnn"), "epochs": epochs + 1, "progress": False}
    mlflow.set_tracking_uri(args.resolved_tracking_uri)
    experiment_id = mlflow.set_experiment(EXPERIMENT).experiment_id
    result.params.update({"preset": "demo", "batch_size": config.dnn.batch_size, "epochs_per_fit": epochs + 1,
                          "repeats": repeats, "tracking_uri": args.resolved_tracking_uri,
                          "per_epoch_logging": "mlflow.log_metrics(metrics, step=epoch) (physml.tasks.supercon.log_epoch)"})  # fmt: skip

    DenseRegressor(**{**params, "epochs": 1}, seed=config.seed).fit(X[:2048], y[:2048])  # warm-up: TF, threads
    intervals = {False: [], True: []}
    hook_seconds, fit_seconds = 0.0, 0.0
    for _ in range(repeats):
        for logging in (False, True):
            if logging:
                with mlflow.start_run(experiment_id=experiment_id, run_name="epochs-logging-on"):
                    times, in_hook, seconds = timed_fit(X, y, params, config.seed, True)
                hook_seconds += in_hook
                fit_seconds += seconds
            else:
                times, _, _ = timed_fit(X, y, params, config.seed, False)
            intervals[logging] += times
    off, on = statistics.median(intervals[False]), statistics.median(intervals[True])
    overhead = on / off - 1
    direct = hook_seconds / fit_seconds

    with mlflow.start_run(experiment_id=experiment_id, run_name="call-cost"):
        costs = call_cost(calls)

    full_config = load_supercon_config(preset="demo", overrides={"evaluation.explain": False, "registry.register": False,
                                                                "dnn.epochs": 6 if args.quick else config.dnn.epochs})  # fmt: skip
    with mlflow.start_run(experiment_id=experiment_id, run_name="dnn-demo-full-run"), MlflowClock() as clock:
        started = time.perf_counter()
        supercon.train(full_config, "dnn", data)
        run_seconds = time.perf_counter() - started
    in_mlflow = sum(clock.seconds.values())
    model_seconds = clock.seconds.get("sklearn.log_model", 0.0)

    result.columns = ["figure", "value", "unit"]
    result.add_row("median epoch time, logging off", off * 1e3, "ms")
    result.add_row("median epoch time, logging on", on * 1e3, "ms")
    result.add_row("epoch-time overhead (on / off - 1)", 100 * overhead, "%")
    result.add_row("time inside the per-epoch hook / fit time", 100 * direct, "%")
    result.add_row("one epoch's 4 metrics as 4 log_metric calls", costs["per_metric_calls_ms"], "ms")
    result.add_row("one epoch's 4 metrics as 1 log_metrics call (batched)", costs["batched_call_ms"], "ms")
    result.add_row("the same, log_metrics(synchronous=False)", costs["async_call_ms"], "ms")
    result.add_row(f"flush of {calls} asynchronous calls", costs["async_flush_ms"], "ms")
    result.add_row(f"whole supercon.train(dnn, demo, {full_config.dnn.epochs} epochs, no SHAP)", run_seconds, "s")
    result.add_row("  of which inside MLflow calls", in_mlflow, "s")
    result.add_row("  of which mlflow.sklearn.log_model (the model + code + requirements)", model_seconds, "s")
    result.add_row("  share of the whole run inside MLflow calls", 100 * in_mlflow / run_seconds, "%")
    result.metrics.update({"epoch_ms_logging_off": off * 1e3, "epoch_ms_logging_on": on * 1e3, "epoch_overhead_pct": 100 * overhead,
                           "hook_share_pct": 100 * direct, "full_run_seconds": run_seconds, "full_run_mlflow_seconds": in_mlflow,
                           "full_run_mlflow_share_pct": 100 * in_mlflow / run_seconds, "log_model_seconds": model_seconds,
                           **costs})  # fmt: skip
    result.metrics.update({f"mlflow_seconds.{name}": value for name, value in clock.seconds.items()})
    result.check("per-epoch logging overhead (epoch time)", 100 * overhead, "< 5%", overhead < 0.05)
    result.check("time inside the per-epoch hook / fit time", 100 * direct, "< 5%", direct < 0.05)
    result.check("whole run inside MLflow calls (artifacts + model)", 100 * in_mlflow / run_seconds, "informational", None)
    result.headline = (f"per-epoch logging {100 * overhead:+.1f}% epoch time (hook {100 * direct:.2f}% of fit); "
                       f"batched {costs['batched_call_ms']:.1f} ms vs 4 calls {costs['per_metric_calls_ms']:.1f} ms vs async "
                       f"{costs['async_call_ms']:.2f} ms; whole run {100 * in_mlflow / run_seconds:.0f}% in MLflow")  # fmt: skip
    result.notes += [
        (f"{repeats} fit(s) per side of {epochs + 1} epochs (demo preset: batch {config.dnn.batch_size}), "
        f"{len(intervals[True])} epoch intervals per side; the epoch-time difference is within the noise when it is "
        "smaller than the direct hook share"),
        ("the whole-run share counts every mlflow.* logging call in supercon.train (params, dataset input, per-epoch "
        "metrics, 4 figures, the predictions table, the model with physml's source); SHAP is off (compute, not tracking)"),
    ]


if __name__ == "__main__":
    run_benchmark("tracking_overhead", "MLflow tracking overhead: epoch time with per-epoch logging on vs off",
                  measure, add_arguments)  # fmt: skip
