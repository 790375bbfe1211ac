"""One net trained in one process, by 1 and by 2 Ray Train workers (`--workers`): supercon's dense net
and galaxy's CNN, same data, same epochs, the same batch per worker (so the 2-worker run's global
batch is twice the 1-worker one's and it takes half the steps): the median epoch and step time, the
wall time of the fit (Ray's and TensorFlow's start included) and the validation and test score at
equal epochs. On this 2-core machine two workers share two cores; on a cluster each would have its own.

    python benchmarks/data_parallel.py [--nets dense cnn] [--epochs 10] [--cnn-epochs 5] [--quick]
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import mlflow

from physml.bench.record import BenchResult, run_benchmark, task_dir
from physml.tasks import get_task
from physml.tracking.runs import train_runs

# Read by `physml bench` (physml/bench/runner.py) without importing this script:
BENCHMARK = "data_parallel"
BUDGET_S = 480  # on 2 CPU cores; the hard limit is twice this
SUMMARY = "the dense net and the galaxy CNN on 1 vs 2 Ray Train workers: step time and score at equal epochs"

EXPERIMENT = "benchmark-data-parallel"
FITS = {"one process (no Ray)": 0, "1 Ray Train worker": 1, "2 Ray Train workers": 2}


@dataclass(frozen=True)
class Net:
    """One of the task's nets and the keys that set it up."""

    task: str
    model: str
    section: str  # the config section holding epochs, batch_size and workers
    preset: str
    scores: tuple[str, str]  # validation and test metric, as logged
    settings: dict


NETS = {
    "dense": Net(
        "supercon", "dnn", "dnn", "demo", ("val_rmse", "test_rmse"), {"evaluation.explain": False}
    ),
    # the seed study's CNN on 2,000 galaxies (about 1,400 to train on)
    "cnn": Net(
        "galaxy", "cnn", "train", "quick", ("val_accuracy", "test_accuracy"),
        {"data.limit": 2000, "model.filters": [32, 64, 128], "model.dense_units": 128,
         "evaluation.network_views": False},
    ),
}  # fmt: skip


def add_arguments(parser) -> None:
    parser.add_argument("--nets", nargs="+", choices=sorted(NETS), default=["dense", "cnn"])
    parser.add_argument("--epochs", type=int, default=10, help="epochs of the dense net")
    parser.add_argument("--cnn-epochs", type=int, default=5, help="epochs of the CNN")
    parser.add_argument("--batch", type=int, default=64, help="rows (dense) per worker per step")
    parser.add_argument("--cnn-batch", type=int, default=32, help="images (CNN) per worker per step")


def train(args, net: Net, workers: int, epochs: int, batch: int) -> dict:
    """The net with `workers` workers (0: one process, no Ray)."""
    task = get_task(net.task)
    overrides = {
        "experiment": EXPERIMENT,
        "registry.register": False,
        "registry.log_model": False,
        **net.settings,
        f"{net.section}.epochs": epochs,
        f"{net.section}.batch_size": batch * max(1, workers),
        f"{net.section}.workers": workers,
    }
    config = task.load_config(preset=net.preset, overrides=overrides)
    data = task.load_data(config, task_dir(args, task.data_folder))
    (result,) = train_runs(task, config, [net.model], data)
    client = mlflow.MlflowClient()
    history = {
        key: [m.value for m in client.get_metric_history(result.run_id, key)]
        for key in ("epoch_seconds", "step_seconds")
    }
    return {"run": client.get_run(result.run_id), **history}


def add_rows(result: BenchResult, name: str, net: Net, runs: dict) -> None:
    for fit, values in runs.items():
        metrics, params = values["run"].data.metrics, values["run"].data.params
        epochs = int(params.get("epochs") or params[f"{net.section}.epochs"])
        batch = int(params.get("batch_size") or params[f"{net.section}.batch_size"])
        # a one-process fit logs no epoch times: its fit's seconds per epoch (and per step) stand in
        epoch = (
            statistics.median(values["epoch_seconds"]) if values["epoch_seconds"] else metrics["fit_seconds"] / epochs
        )
        steps = int(params["n_train"]) // batch
        step = 1000 * (statistics.median(values["step_seconds"]) if values["step_seconds"] else epoch / steps)
        val, test = (metrics[key] for key in net.scores)
        result.add_row(
            name,
            fit,
            batch,
            f"{epoch:.2f}",
            f"{step:.2f}",
            f"{metrics['fit_seconds']:.1f}",
            f"{val:.3f}",
            f"{test:.3f}",
        )


def measure(args, result: BenchResult) -> None:
    mlflow.set_tracking_uri(args.resolved_tracking_uri or "sqlite:///benchmark-data-parallel.db")
    result.columns = ["net", "fit", "global batch", "median epoch s", "median step ms", "fit s", "val", "test"]
    headline = []
    for name in args.nets:
        net = NETS[name]
        epochs = 2 if args.quick else (args.epochs if name == "dense" else args.cnn_epochs)
        batch = args.batch if name == "dense" else args.cnn_batch
        runs = {fit: train(args, net, workers, epochs, batch) for fit, workers in FITS.items()}
        result.params.update({f"{name}.epochs": epochs, f"{name}.batch_per_worker": batch})
        add_rows(result, f"{name} ({net.scores[0]}, {net.scores[1]})", net, runs)
        one, two = runs["1 Ray Train worker"], runs["2 Ray Train workers"]
        ratio = statistics.median(one["epoch_seconds"]) / statistics.median(two["epoch_seconds"])
        result.metrics[f"{name}_epoch_speedup_2_vs_1"] = ratio
        result.check(f"{name}: epoch time, 1 worker / 2 workers (info: 2 cores shared)", ratio, "info", None)
        headline.append(f"{name} {ratio:.2f}x")
    result.headline = f"2 workers' epoch speed over 1 (same per-worker batch, 2 cores): {', '.join(headline)}"


if __name__ == "__main__":
    run_benchmark(BENCHMARK, SUMMARY, measure, add_arguments)
