"""Evidence overhead: the share of a run's wall time spent on its evidence (split audit, baselines,
floor, strata: `evidence_seconds`, logged by every run) and its model card (read back from the
server and logged), for supercon's gbm (default settings, random and grouped splits) and galaxy's
CNN (demo preset). Target: < 5% of the run. Also prints what supercon's card shows at seed 42: the
floor, the gbm's validation and test RMSE beside the nearest-neighbour baseline, and the share of
rows whose composition was trained on under each split.

    python benchmarks/evidence_overhead.py [--data-dir ../shared/data] [--quick]
"""

from __future__ import annotations

import time

import mlflow

from physml.bench.record import BenchResult, run_benchmark, task_dir
from physml.judging.model_card import log_report_and_card
from physml.tasks import get_task
from physml.tracking.runs import train_runs

# Read by `physml bench` (physml/bench/runner.py) without importing this script:
BENCHMARK = "evidence_overhead"
BUDGET_S = 300  # what it should take on 2 CPU cores (full settings); the hard limit is twice this
SUMMARY = "evidence and model card as a share of a run's wall time (< 5%)"

EXPERIMENT = "benchmark-evidence-overhead"


def timed_run(args, task_name: str, model: str, preset: str | None, overrides: dict) -> dict[str, float]:
    """Train one run as `physml TASK train` does (no registration), then its card and report; seconds of each."""
    task = get_task(task_name)
    data_dir = task_dir(args, task.data_folder)
    config = task.load_config(
        preset=preset, overrides={"experiment": EXPERIMENT, "registry.register": False, **overrides}
    )
    data = task.load_data(config, data_dir)
    started = time.perf_counter()
    (result,) = train_runs(task, config, [model], data)
    run_seconds = time.perf_counter() - started
    started = time.perf_counter()
    log_report_and_card(task, result.run_id, task.anchors_for(config, [result]), data_dir)
    card_seconds = time.perf_counter() - started
    metrics = mlflow.MlflowClient().get_run(result.run_id).data.metrics
    return {"run_s": run_seconds, "card_s": card_seconds, **metrics}


def measure(args, result: BenchResult) -> None:
    mlflow.set_tracking_uri(args.resolved_tracking_uri or "sqlite:///benchmark-evidence.db")
    preset = "quick" if args.quick else None
    runs = {
        "supercon gbm, random split": timed_run(args, "supercon", "gbm", preset, {}),
        "supercon gbm, grouped split": timed_run(args, "supercon", "gbm", preset, {"data.split": "grouped"}),
        "galaxy cnn, demo preset": timed_run(args, "galaxy", "cnn", "quick" if args.quick else "demo", {}),
    }
    result.params.update({"preset": preset or "default (galaxy: demo)", "seed": 42})
    result.columns = ["run", "run s", "evidence s", "card s", "share"]
    for name, run in runs.items():
        share = (run["evidence_seconds"] + run["card_s"]) / (run["run_s"] - run["evidence_seconds"])
        result.add_row(
            name, f"{run['run_s']:.1f}", f"{run['evidence_seconds']:.2f}", f"{run['card_s']:.2f}", f"{share:.1%}"
        )
        result.check(f"{name}: evidence and card / the rest of the run", share, "< 5%", share < 0.05)
        result.metrics[f"{name.split(',')[0].replace(' ', '_')}_{'grouped' if 'grouped' in name else 'run'}_share"] = (
            share
        )
    for name in ("supercon gbm, random split", "supercon gbm, grouped split"):
        run = runs[name]
        result.notes.append(
            f"{name}: floor {run['floor_rmse']:.2f} K over {run['floor_share']:.1%} of rows; val RMSE {run['val_rmse']:.2f} K "
            f"vs k-NN {run['val_knn_rmse']:.2f} K (skill {run['val_skill_over_knn']:.2f} "
            f"[{run['val_skill_over_knn_ci_low']:.2f}, {run['val_skill_over_knn_ci_high']:.2f}]); test RMSE "
            f"{run['test_rmse']:.2f} K vs k-NN {run['test_knn_rmse']:.2f} K (skill {run['test_skill_over_knn']:.2f} "
            f"[{run['test_skill_over_knn_ci_low']:.2f}, {run['test_skill_over_knn_ci_high']:.2f}]); test rows whose "
            f"composition was trained on: {run['test_trained_group_share']:.1%}"
        )
    shares = [row[-1] for row in result.rows]
    result.headline = f"evidence + card: {', '.join(shares)} of the run (supercon random, grouped; galaxy demo)"


if __name__ == "__main__":
    run_benchmark(BENCHMARK, SUMMARY, measure)
