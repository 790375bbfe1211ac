"""One dense net trained by 1 and by 2 Ray Train workers (`--workers`), same data, same epochs, the same
batch per worker (so the 2-worker run's global batch is twice the 1-worker one's and it takes half
the steps): the median epoch and step time, the wall time of the fit (Ray's and TensorFlow's start
included) and the validation and test RMSE at equal epochs; and the one-process fit (no Ray) beside
them. On this 2-core machine two workers share two cores; on a cluster each would have its own.

    python benchmarks/data_parallel.py [--epochs 10] [--batch 64] [--quick]
"""

from __future__ import annotations

import statistics

import mlflow

from physml.bench.record import BenchResult, run_benchmark, task_dir
from physml.tasks import get_task
from physml.tracking.runs import train_runs

# Read by `physml bench` (physml/bench/runner.py) without importing this script:
BENCHMARK = "data_parallel"
BUDGET_S = 240  # on 2 CPU cores; the hard limit is twice this
SUMMARY = "the dense net on 1 vs 2 Ray Train workers: step time and RMSE at equal epochs"

EXPERIMENT = "benchmark-data-parallel"


def add_arguments(parser) -> None:
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch", type=int, default=64, help="rows per worker per step")


def train(args, workers: int) -> dict:
    """supercon's dense net (demo settings) with `workers` workers (0: one process, no Ray)."""
    task = get_task("supercon")
    epochs = 2 if args.quick else args.epochs
    overrides = {
        "experiment": EXPERIMENT,
        "registry.register": False,
        "registry.log_model": False,
        "evaluation.explain": False,
        "dnn.epochs": epochs,
        "dnn.batch_size": args.batch * max(1, workers),
        "dnn.workers": workers,
    }
    config = task.load_config(preset="demo", overrides=overrides)
    data = task.load_data(config, task_dir(args, task.data_folder))
    (result,) = train_runs(task, config, ["dnn"], data)
    client = mlflow.MlflowClient()
    run = client.get_run(result.run_id)
    history = {
        key: [m.value for m in client.get_metric_history(result.run_id, key)]
        for key in ("epoch_seconds", "step_seconds")
    }
    return {"run": run, **history}


def measure(args, result: BenchResult) -> None:
    mlflow.set_tracking_uri(args.resolved_tracking_uri or "sqlite:///benchmark-data-parallel.db")
    runs = {
        "one process (no Ray)": train(args, 0),
        "1 Ray Train worker": train(args, 1),
        "2 Ray Train workers": train(args, 2),
    }
    result.params.update({"epochs": 2 if args.quick else args.epochs, "batch_per_worker": args.batch})
    result.columns = ["fit", "global batch", "median epoch s", "median step ms", "fit s", "val RMSE K", "test RMSE K"]
    for name, values in runs.items():
        metrics, params = values["run"].data.metrics, values["run"].data.params
        epochs = int(params["epochs"])
        # the one-process fit logs no epoch times: its fit's seconds per epoch (and per step) stand in
        epoch = (
            statistics.median(values["epoch_seconds"]) if values["epoch_seconds"] else metrics["fit_seconds"] / epochs
        )
        steps = int(params["n_train"]) // int(params["batch_size"])
        step = 1000 * (statistics.median(values["step_seconds"]) if values["step_seconds"] else epoch / steps)
        result.add_row(
            name, params["batch_size"], f"{epoch:.2f}", f"{step:.2f}", f"{metrics['fit_seconds']:.1f}",
            f"{metrics['val_rmse']:.2f}", f"{metrics['test_rmse']:.2f}",
        )  # fmt: skip
    one, two = runs["1 Ray Train worker"], runs["2 Ray Train workers"]
    ratio = statistics.median(one["epoch_seconds"]) / statistics.median(two["epoch_seconds"])
    result.metrics["epoch_speedup_2_vs_1"] = ratio
    result.check("epoch time, 1 worker / 2 workers (info: 2 cores shared)", ratio, "info", None)
    result.headline = f"2 workers: {ratio:.2f}x the epoch speed of 1 (same per-worker batch, 2 cores)"


if __name__ == "__main__":
    run_benchmark(BENCHMARK, SUMMARY, measure, add_arguments)
