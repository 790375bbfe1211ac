"""System metrics overhead: what MLflow's system-metrics sampling (physml turns it on for every run and
trial, physml/tracking/system_metrics.py) costs a run.

Two figures from one run, against a real `mlflow server` over HTTP:
- the cost of one sample as MLflow's monitor takes it (read CPU, memory, disk, network (and GPU);
  ask the server whether the run still runs; log the batch), timed over many samples; at physml's
  interval, the share of a run's time is that cost over the interval (target < 1%);
- a cross-check on wall time: supercon demo DNN fits inside runs with sampling off and on, at a
  10x denser interval than physml's so the effect (if any) shows, alternating after a warm-up.

    python benchmarks/system_metrics_overhead.py [--data-dir ../shared/data] [--samples 30] [--repeats 3] [--quick]
"""

from __future__ import annotations

import os
import statistics
import time

import mlflow
from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor
from sklearn.preprocessing import StandardScaler

import physml.tasks.supercon.train as supercon
from physml.bench.record import BenchResult, run_benchmark, task_dir
from physml.tasks import get_task
from physml.tasks.composition.dense import DenseRegressor
from physml.tasks.supercon.data import load_supercon
from physml.tracking.system_metrics import SAMPLING_INTERVAL_S

# Read by `physml bench` (physml/bench/runner.py) without importing this script:
BENCHMARK = "system_metrics_overhead"
BUDGET_S = 60  # what it should take on 2 CPU cores (full settings); the hard limit is twice this
SUMMARY = "MLflow system-metrics sampling: cost per sample / physml's interval (< 1%)"

EXPERIMENT = "benchmark-system-metrics"


def add_arguments(parser) -> None:
    parser.add_argument("--samples", type=int, default=30, help="samples timed for the per-sample cost")
    parser.add_argument("--repeats", type=int, default=3, help="fits per variant in the wall-time cross-check")
    parser.add_argument("--epochs", type=int, default=40, help="epochs per fit in the cross-check")


def sample_cost(run_id: str, tracking_uri: str, samples: int) -> dict[str, float]:
    """Seconds per sample as MLflow's monitor loop spends them: collect, check the run, publish."""
    from mlflow import MlflowClient

    monitor = SystemMetricsMonitor(run_id, sampling_interval=SAMPLING_INTERVAL_S, tracking_uri=tracking_uri)
    client = MlflowClient(tracking_uri)
    collect, check, publish, cpu = [], [], [], []
    for _ in range(samples):
        cpu_started = time.thread_time()
        started = time.perf_counter()
        monitor.collect_metrics()
        collected = time.perf_counter()
        client.get_run(run_id)  # the monitor asks whether the run still runs after each sample
        checked = time.perf_counter()
        monitor.publish_metrics(monitor.aggregate_metrics())
        monitor.mlflow_logger.flush()
        published = time.perf_counter()
        cpu.append(time.thread_time() - cpu_started)
        collect.append(collected - started)
        check.append(checked - collected)
        publish.append(published - checked)
    return {
        "collect_ms": 1e3 * statistics.median(collect),
        "check_run_ms": 1e3 * statistics.median(check),
        "publish_ms": 1e3 * statistics.median(publish),
        "sample_ms": 1e3 * statistics.median(a + b + c for a, b, c in zip(collect, check, publish)),
        "sample_cpu_ms": 1e3 * statistics.median(cpu),  # this thread's CPU time: the rest is waiting on the server
        "monitors": ",".join(type(m).__name__ for m in monitor.monitors),
    }


def timed_fits(X, y, params: dict, seed: int, repeats: int, dense_interval: float, experiment_id: str):
    """Fit seconds with sampling off and on (every `dense_interval` s), alternating, each in its own run."""
    seconds: dict[str, list[float]] = {"off": [], "on": []}
    os.environ["MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL"] = str(dense_interval)
    for round_ in range(repeats):
        for variant in ("off", "on") if round_ % 2 == 0 else ("on", "off"):
            with mlflow.start_run(
                experiment_id=experiment_id,
                run_name=f"fit-system-metrics-{variant}",
                log_system_metrics=variant == "on",
            ):
                started = time.perf_counter()
                DenseRegressor(**params, seed=seed).fit(X, y)
                seconds[variant].append(time.perf_counter() - started)
    return seconds


def measure(args, result: BenchResult) -> None:
    samples, repeats, epochs = (5, 1, 2) if args.quick else (args.samples, args.repeats, args.epochs)
    dense_interval = SAMPLING_INTERVAL_S / 10
    mlflow.set_tracking_uri(args.resolved_tracking_uri)
    experiment_id = mlflow.set_experiment(EXPERIMENT).experiment_id
    with mlflow.start_run(experiment_id=experiment_id, run_name="sample-cost") as run:
        cost = sample_cost(run.info.run_id, args.resolved_tracking_uri, samples)
    share = cost["sample_ms"] / 1e3 / SAMPLING_INTERVAL_S

    config = get_task("supercon").load_config(preset="demo")
    split = supercon.make_split(config, load_supercon(task_dir(args, "supercon")))
    X, y = StandardScaler().fit_transform(split.X_train), split.y_train.to_numpy()
    params = {**config.model_params("dnn"), "epochs": epochs, "progress": False}
    DenseRegressor(**{**params, "epochs": 1}, seed=config.seed).fit(X[:2048], y[:2048])  # warm-up: TF, threads
    fits = timed_fits(X, y, params, config.seed, repeats, dense_interval, experiment_id)
    off, on = statistics.fmean(fits["off"]), statistics.fmean(fits["on"])
    spread = statistics.stdev(fits["off"]) / off if len(fits["off"]) > 1 else float("nan")

    result.params.update(
        {
            "sampling_interval_s": SAMPLING_INTERVAL_S,
            "samples_timed": samples,
            "cross_check_interval_s": dense_interval,
            "cross_check_fits_per_variant": repeats,
            "cross_check_epochs": epochs,
            "monitors": cost["monitors"],
            "tracking_uri": args.resolved_tracking_uri,
        }
    )
    result.columns = ["figure", "value", "unit"]
    result.add_row("one sample: read CPU, memory, disk, network (median)", cost["collect_ms"], "ms")
    result.add_row("  ask the server whether the run still runs", cost["check_run_ms"], "ms")
    result.add_row("  log the sample (one log_batch)", cost["publish_ms"], "ms")
    result.add_row("  the whole sample (wall time of the monitor thread)", cost["sample_ms"], "ms")
    result.add_row("  of which CPU time (the rest waits on the server)", cost["sample_cpu_ms"], "ms")
    result.add_row(f"share of a run's time at physml's interval ({SAMPLING_INTERVAL_S} s)", 100 * share, "%")
    result.add_row(f"demo DNN fit ({epochs} epochs), sampling off (mean of {repeats})", off, "s")
    result.add_row(f"  sampling on, every {dense_interval:g} s (10x physml's rate)", on, "s")
    result.add_row("  on / off", on / off, "x")
    result.add_row("  fit-to-fit spread with sampling off (1 s.d.)", 100 * spread, "%")
    result.metrics.update(
        {
            "sample_ms": cost["sample_ms"],
            "sample_cpu_ms": cost["sample_cpu_ms"],
            "run_cpu_share_pct": 100 * cost["sample_cpu_ms"] / 1e3 / SAMPLING_INTERVAL_S,
            "collect_ms": cost["collect_ms"],
            "check_run_ms": cost["check_run_ms"],
            "publish_ms": cost["publish_ms"],
            "run_share_pct": 100 * share,
            "fit_seconds_off": off,
            "fit_seconds_on_dense": on,
            "fit_ratio_on_dense": on / off,
            "fit_spread_pct": 100 * spread,
        }
    )
    result.check(f"sample wall time / {SAMPLING_INTERVAL_S} s interval", 100 * share, "< 1%", share < 0.01)
    cpu_share = cost["sample_cpu_ms"] / 1e3 / SAMPLING_INTERVAL_S
    result.check(f"sample CPU time / {SAMPLING_INTERVAL_S} s interval", 100 * cpu_share, "informational", None)
    result.check("fit time with 10x denser sampling / without", on / off, "informational", None)
    result.headline = (
        f"one sample {cost['sample_ms']:.1f} ms = {100 * share:.2f}% of a run at {SAMPLING_INTERVAL_S} s; "
        f"fits with 10x denser sampling {on / off:.3f}x the time without"
    )
    result.notes.append(
        "the sample cost is what MLflow's monitor thread spends per interval (it runs beside training, so on a busy "
        "2-core machine it takes that much CPU from it at most); the fit ratio is a cross-check within the noise"
    )


if __name__ == "__main__":
    run_benchmark(BENCHMARK, "MLflow system metrics: cost of sampling a run", measure, add_arguments)
