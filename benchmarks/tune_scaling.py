"""Ray Tune: trials/hour of one supercon search with 1 vs 2 concurrent trials, and the scheduler's effect
(ASHA vs none) on the time to reach the same best validation RMSE, all in one run.

Every search is physml's own `run_search` (Optuna TPE, seeded, one nested MLflow run per trial,
logged to the server given, experiment `benchmark-tune-scaling`). The three searches evaluate the
same configs: TPE's first trials are seeded random draws, and --samples stays below its 10 start-up
trials. "none" is ASHA with its first rung at the last epoch, which never stops a trial early (the
same searcher, so only the scheduler differs). Ray is started once (2 CPUs, 1 CPU per trial);
its start-up time is reported on its own and not counted in the searches.

A fourth search measures physml's `reuse_actors=True` (Tune keeps one worker process per slot
instead of starting one, and importing TensorFlow, per trial): ASHA with 2 workers and
`reuse_actors=False` patched into run_search's TuneConfig. --no-what-if skips it.

    python benchmarks/tune_scaling.py [--data-dir ../shared/data] [--samples 8] [--epochs 12] [--quick]
"""

from __future__ import annotations

import functools
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import numpy as np

from physml.bench.record import BenchResult, run_benchmark, task_dir
from physml.bench.specs import seed_net_bayes_spec
from physml.resources import usable_cpus

# Read by `physml bench` (physml/bench/runner.py) without importing this script:
BENCHMARK = "tune_scaling"
BUDGET_S = 300  # what it should take on 2 CPU cores (full settings); the hard limit is twice this
SUMMARY = "Ray Tune trials/hour 1 vs 2 workers, ASHA vs none"

EXPERIMENT = "benchmark-tune-scaling"


@contextmanager
def without_reuse_actors(enabled: bool):
    """Tune's TuneConfig with reuse_actors=False inside run_search (physml's default outside PBT is True)."""
    from ray import tune

    if not enabled:
        yield
        return
    with mock.patch.object(tune, "TuneConfig", functools.partial(_tune_config_without_reuse, tune.TuneConfig)):
        yield


def _tune_config_without_reuse(tune_config, **kwargs):
    return tune_config(**{**kwargs, "reuse_actors": False})


def time_to_reach(table, started_at: float, target: float) -> float:
    """Seconds from the search's start until a trial had reported val_rmse <= target (nan if never)."""
    done = table[np.isfinite(table["val_rmse"]) & (table["val_rmse"] <= target + 1e-9)]
    return float(done["finished_at"].min() - started_at) if len(done) else float("nan")


def add_arguments(parser) -> None:
    parser.add_argument(
        "--samples", type=int, default=6, help="trials per search (<= 10: TPE's seeded random start-up)"
    )
    parser.add_argument("--epochs", type=int, default=9, help="epochs per trial")
    parser.add_argument(
        "--grace-period", type=int, default=1, help="ASHA's first rung (epochs); rungs at 1, 3, 9 by default"
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--no-what-if", action="store_true", help="skip the reuse_actors=False search")


def measure(args, result: BenchResult) -> None:
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ["PHYSML_PROGRESS"] = "0"
    import ray

    from physml.tuning.search import SearchOptions, run_search

    samples, epochs, grace = (2, 2, 1) if args.quick else (args.samples, args.epochs, args.grace_period)
    cpus = usable_cpus()
    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray_start = time.perf_counter() - started
    searches = [("none", 1, epochs), ("none", 2, epochs), ("asha", 2, grace)]
    if not args.no_what_if and not args.quick:
        searches.append(("asha+no_reuse_actors", 2, grace))
    outcomes = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for scheduler, workers, first_rung in searches:
                name = f"{scheduler.replace('+', '-')}-{workers}w"
                spec = seed_net_bayes_spec(Path(tmp) / f"{name}.yaml", epochs, samples, args.batch_size, first_rung)
                options = SearchOptions(
                    task="supercon",
                    kind="bayes",
                    max_concurrent=workers,
                    retrain_best=False,
                    seed=0,
                    data_dir=str(task_dir(args, "supercon")),
                    spec_path=spec,
                    storage=str(Path(tmp) / "ray"),
                    name=name,
                    overrides={"experiment": EXPERIMENT},
                )
                wall_start, started = time.time(), time.perf_counter()
                with without_reuse_actors(scheduler.endswith("no_reuse_actors")):
                    outcome = run_search(options, args.resolved_tracking_uri)
                seconds = time.perf_counter() - started
                outcomes[(scheduler, workers)] = (outcome, seconds, wall_start)
                print(
                    f"search {name}: {len(outcome.results)} trials in {seconds:.1f} s, best val_rmse {outcome.best_metric:.3f}",
                    flush=True,
                )
    finally:
        ray.shutdown()

    target = max(outcome.best_metric for outcome, _, _ in outcomes.values())  # the best every search reached
    result.params.update(
        {
            "task": "supercon dnn (SGD)",
            "searcher": "OptunaSearch (TPE, seed 0)",
            "samples": samples,
            "epochs_per_trial": epochs,
            "batch_size": args.batch_size,
            "asha_grace_period": grace,
            "asha_reduction_factor": 3,
            "ray_cpus": 2,
            "cpus_per_trial": 1,
            "machine_cpus": cpus,
            "tracking_uri": args.resolved_tracking_uri,
        }
    )
    result.columns = [
        "search",
        "workers",
        "trials",
        "early-stopped",
        "epochs trained",
        "seconds",
        "trials/hour",
        "best val_rmse (K)",
        "s to best common",
    ]
    rows = {}
    for (scheduler, workers), (outcome, seconds, wall_start) in outcomes.items():
        table = outcome.results
        rate = len(table) / seconds * 3600
        reach = time_to_reach(table, wall_start, target)
        rows[(scheduler, workers)] = (rate, seconds, reach)
        result.add_row(
            f"TPE, scheduler {scheduler}",
            workers,
            len(table),
            int(table["early_stopped"].sum()),
            int(table["epochs_run"].sum()),
            seconds,
            rate,
            outcome.best_metric,
            reach,
        )
        key = f"{scheduler.replace('+', '_')}_{workers}w"
        result.metrics.update(
            {
                f"{key}_trials_per_hour": rate,
                f"{key}_seconds": seconds,
                f"{key}_best_val_rmse": outcome.best_metric,
                f"{key}_seconds_to_common_best": reach,
                f"{key}_epochs_trained": int(table["epochs_run"].sum()),
            }
        )
    scaling = rows[("none", 2)][0] / rows[("none", 1)][0]
    asha_speedup = rows[("none", 2)][2] / rows[("asha", 2)][2]
    asha_total = rows[("none", 2)][1] / rows[("asha", 2)][1]
    result.metrics.update(
        {
            "ray_start_seconds": ray_start,
            "scaling_2w_vs_1w": scaling,
            "asha_time_to_best_speedup": asha_speedup,
            "asha_total_time_speedup": asha_total,
            "common_best_val_rmse": target,
        }
    )
    result.check("trials/hour, 2 workers / 1 worker", scaling, f"ideal {min(2, cpus)}x on {cpus} CPUs", None)
    result.check(
        "time to the common best, none / ASHA",
        asha_speedup,
        "> 1 (ASHA faster)",
        asha_speedup > 1 if np.isfinite(asha_speedup) else None,
    )
    no_reuse = rows.get(("asha+no_reuse_actors", 2))
    if no_reuse:
        result.metrics.update(
            {
                "reuse_actors_speedup": no_reuse[1] / rows[("asha", 2)][1],
                "reuse_actors_time_to_best_speedup": no_reuse[2] / rows[("asha", 2)][2],
            }
        )
        result.check(
            "reuse_actors: ASHA search time without / with reuse", no_reuse[1] / rows[("asha", 2)][1], "> 1", None
        )
    result.headline = (
        f"2 workers {scaling:.2f}x the trials/hour of 1 ({rows[('none', 2)][0]:,.0f} vs {rows[('none', 1)][0]:,.0f}); "
        f"ASHA reaches val_rmse {target:.2f} K {asha_speedup:.2f}x sooner, whole search {asha_total:.2f}x faster"
        + (f"; reuse_actors {no_reuse[1] / rows[('asha', 2)][1]:.2f}x faster than without" if no_reuse else "")
    )
    result.notes += [
        (
            f"Ray start-up {ray_start:.1f} s (once, not counted); each search's seconds include loading the data into Ray's "
            "object store, the trials, and logging the parent run (no retraining of the best)"
        ),
        (
            f"{samples} trials x {epochs} epochs (batch {args.batch_size}); a trial also evaluates on the test part, draws 3 figures "
            "and logs its run, a fixed cost per trial that early stopping cannot save"
        ),
        (
            f"'s to best common': seconds from the search's start until some trial had finished with val_rmse <= {target:.3f} K, "
            "the best value every search reached (1 s resolution: Ray's result timestamps)"
        ),
    ]


if __name__ == "__main__":
    run_benchmark(BENCHMARK, "Ray Tune trials/hour for 1 vs 2 workers, ASHA vs no scheduler", measure, add_arguments)
