"""physml's Bayesian search against KerasTuner's BayesianOptimization (the seed study's tool), on the
seed study's search space for the supercon dense net, with the same trial budget, in one run.

Both searches fit the same net (physml's `build_dense_net`, SGD, MSE on the standard-scaled Tc) on the
same training part and score it on the same validation part (physml's split, seed 42), for the same
epochs and batch size, over the same ranges: units 10-200, layers 2-3, learning rate 1e-5 to 1e-2
(log). Each trial is scored as physml scores it: the validation RMSE (K) at its last epoch.

- physml: `run_search` as `physml tune supercon --search bayes` runs it: Optuna TPE, ASHA,
  Ray with 2 trials at a time on 2 CPUs, one MLflow run per trial (each also evaluates on the test part
  and logs its run). Its wall time counts from before Ray starts.
- KerasTuner: `BayesianOptimization` (Gaussian process), one trial after another in this
  process, as the seed study ran it; nothing logged.

Each pair of searches runs with searcher seed 0, 1, ... (`--seeds`, 3 by default: one 12-trial search
is mostly random draws). Reported per seed: each side's best validation RMSE, and the wall time each
took to reach KerasTuner's best (physml: the first of its trials to end at or below it). Ratios: mean
best RMSE physml / KerasTuner (<= 1: at least as good) and the median over seeds of the time to
KerasTuner's best, physml / KerasTuner (< 1: physml sooner; a search that never reached it counts as
infinite).

    python benchmarks/keras_tuner_search.py [--data-dir ../shared/data] [--samples 12] [--epochs 20] [--quick]
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from physml.bench.record import BenchResult, run_benchmark, task_dir
from physml.bench.specs import seed_net_bayes_spec
from physml.judging.compare import mean_and_interval
from physml.tuning.searchers import SEARCHERS
from physml.tuning.summary import SEARCHER_NAMES

# Read by `physml bench` (physml/bench/runner.py) without importing this script:
BENCHMARK = "keras_tuner_search"
BUDGET_S = 420  # 3 pairs of searches; what it should take on 2 CPU cores (full settings); the hard limit is twice this
SUMMARY = "physml Bayesian search vs KerasTuner BayesianOptimization: best val RMSE, time to KerasTuner's best"

EXPERIMENT = "benchmark-keras-tuner"
UNITS = (10, 200)
LAYERS = (2, 3)
LEARNING_RATE = (1.0e-5, 1.0e-2)
RESCORE_SEEDS = 5  # initial weights each tool's best setting is retrained from, to compare the settings found


def scaled_parts(data_dir: Path):
    """physml's training and validation parts, scaled as its dense net sees them (features by the
    training part's StandardScaler, Tc standardised by the training part's mean and spread)."""
    from sklearn.preprocessing import StandardScaler

    from physml.tasks import get_task
    from physml.tasks.supercon.train import make_split

    task = get_task("supercon")
    config = task.load_config()
    split = make_split(config, task.load_data(config, str(data_dir)))
    scaler = StandardScaler().fit(split.X_train)
    y = split.y_train.to_numpy("float32")
    mean, spread = float(y.mean()), float(y.std())
    train = (scaler.transform(split.X_train).astype("float32"), (y - mean) / spread)
    val = (scaler.transform(split.X_val).astype("float32"), (split.y_val.to_numpy("float32") - mean) / spread)
    return train, val, spread, config.seed


def seed_net(n_features: int, setting: dict):
    """The seed study's dense net with `setting` (layers, units, SGD learning rate), compiled: what
    KerasTuner's trials and the re-scoring both train."""
    from physml.models.optimizers import make_optimizer
    from physml.tasks.composition.dense import STEPS_PER_EXECUTION, build_dense_net

    model = build_dense_net(n_features, int(setting["layers"]), int(setting["units"]))
    optimizer = make_optimizer("sgd", float(setting["learning_rate"]))
    model.compile(optimizer=optimizer, loss="mse", steps_per_execution=STEPS_PER_EXECUTION)
    return model


def run_keras_tuner(train, val, spread: float, samples: int, epochs: int, batch_size: int, folder: Path, seed: int):
    """KerasTuner's BayesianOptimization over the same space; [(seconds since start, last-epoch val RMSE K,
    the trial's hyperparameters)]."""
    import keras
    import keras_tuner

    n_features = train[0].shape[1]

    def build(hp) -> keras.Model:
        setting = {
            "layers": hp.Int("layers", *LAYERS),
            "units": hp.Int("units", *UNITS),
            "learning_rate": hp.Float("learning_rate", *LEARNING_RATE, sampling="log"),
        }
        built.append(setting)
        return seed_net(n_features, setting)

    started = time.perf_counter()
    finished: list[tuple[float, float, dict]] = []
    built: list[dict] = []  # trials run one at a time: the last net built is the one being trained

    class LastEpoch(keras.callbacks.Callback):  # KerasTuner deep-copies callbacks: results go to `finished`
        def on_train_end(self, logs=None):
            history = self.model.history.history.get("val_loss", [math.nan])
            value = history[-1] if history else math.nan
            rmse = math.sqrt(value) * spread if math.isfinite(value) and value >= 0 else math.nan
            finished.append((time.perf_counter() - started, rmse, built[-1]))

    tuner = keras_tuner.BayesianOptimization(
        build,
        objective=keras_tuner.Objective("val_loss", "min"),
        max_trials=samples,
        seed=seed,
        directory=str(folder),
        project_name=f"seed-space-{seed}",
        overwrite=True,
    )
    tuner.search(
        *train,
        validation_data=val,
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        verbose=0,
        callbacks=[LastEpoch()],
    )
    return finished, time.perf_counter() - started


def rescored(train, val, spread: float, settings: dict, epochs: int, batch_size: int) -> float:
    """The mean last-epoch validation RMSE (K) of the net with `settings` (layers, units, learning_rate)
    trained from RESCORE_SEEDS initial weights, the same way for both tools: a search's best score is
    also the best of its trials' weight draws, and at one setting those spread by ~0.9 K (13.9-14.8 K
    measured at 3 x 150, SGD 0.009), as much as the tools differ. physml's trials all start from the
    config's seed (comparable trials); KerasTuner's from fresh draws."""
    import keras

    scores = []
    for seed in range(RESCORE_SEEDS):
        keras.utils.set_random_seed(1000 + seed)
        model = seed_net(train[0].shape[1], settings)
        history = model.fit(*train, validation_data=val, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0)
        scores.append(math.sqrt(history.history["val_loss"][-1]) * spread)
    return float(np.mean(scores))


def run_physml(args, samples: int, epochs: int, batch_size: int, grace: int, startup: int, folder: Path, seed: int):
    """physml's search as `physml tune` runs it; (trial table, seconds, wall-clock start)."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray

    from physml.tuning.search import SearchOptions, run_search

    options = SearchOptions(
        task="supercon",
        kind="bayes",
        max_concurrent=2,
        retrain_best=False,
        seed=seed,
        data_dir=str(task_dir(args, "supercon")),
        spec_path=seed_net_bayes_spec(
            folder / f"seed-space-{seed}.yaml",
            epochs,
            samples,
            batch_size,
            grace,
            LEARNING_RATE,
            startup,
            args.searcher,
        ),
        storage=str(folder / "ray"),
        name=f"seed-space-{seed}",
        overrides={"experiment": EXPERIMENT},
    )
    with trial_server(args, folder) as tracking_uri:
        wall_start, started = time.time(), time.perf_counter()
        try:
            outcome = run_search(options, tracking_uri)  # starts Ray: counted
        finally:
            ray.shutdown()
    return outcome.results, time.perf_counter() - started, wall_start


@contextlib.contextmanager
def trial_server(args, folder: Path):
    """Where physml's trials log: the benchmark's server, or with --no-log a throwaway embedded one in
    `folder` (the trials run in Ray workers and need a server every process reaches; with no URI each
    resolved its own default, and every trial failed with "Run with id=... not found")."""
    if args.resolved_tracking_uri:
        yield args.resolved_tracking_uri
        return
    from physml.tracking import server

    info = server.start(home=folder / "trials-server", port=server.free_port())
    try:
        yield info.url
    finally:
        server.stop(home=folder / "trials-server")


def add_arguments(parser) -> None:
    parser.add_argument("--samples", type=int, default=12, help="trials per search")
    parser.add_argument("--epochs", type=int, default=20, help="epochs per trial (the seed study's 20)")
    parser.add_argument("--batch-size", type=int, default=32, help="the seed study's 32")
    parser.add_argument("--grace-period", type=int, default=3, help="ASHA's first rung (epochs)")
    parser.add_argument(
        "--startup-trials",
        type=int,
        default=4,
        help="physml's searcher: random draws before it models (spec's startup_trials)",
    )
    parser.add_argument(
        "--searcher", choices=SEARCHERS, default="tpe", help="physml's bayes searcher (the spec's `searcher`)"
    )
    parser.add_argument("--seeds", type=int, default=3, help="searcher seeds 0..N-1 for each tool")


def one_pair(args, parts, samples: int, epochs: int, grace: int, startup: int, seed: int) -> dict[str, float]:
    """One KerasTuner search and one physml search with searcher seed `seed`: their figures."""
    train, val, spread, _ = parts
    with tempfile.TemporaryDirectory() as tmp:
        kt_trials, kt_seconds = run_keras_tuner(train, val, spread, samples, epochs, args.batch_size, Path(tmp), seed)
        table, seconds, wall_start = run_physml(args, samples, epochs, args.batch_size, grace, startup, Path(tmp), seed)
    kt_best = float(np.nanmin([rmse for _, rmse, _ in kt_trials]))
    kt_setting = next(settings for _, rmse, settings in kt_trials if rmse == kt_best)
    scores = table["val_rmse"].to_numpy(dtype=float)
    reached = table[np.isfinite(scores) & (scores <= kt_best + 1e-9)]
    best_row = table.iloc[int(np.nanargmin(scores))]
    physml_setting = {key: best_row[f"dnn.{key}"].item() for key in ("layers", "units", "learning_rate")}
    figures = {
        "keras_tuner_best": kt_best,
        "keras_tuner_seconds": kt_seconds,
        "keras_tuner_to_best": min(t for t, rmse, _ in kt_trials if rmse <= kt_best),
        "keras_tuner_best_rescored": rescored(*parts[:3], kt_setting, epochs, args.batch_size),
        "physml_best_rescored": rescored(*parts[:3], physml_setting, epochs, args.batch_size),
        "physml_best": float(np.nanmin(scores)),
        "physml_seconds": seconds,
        "physml_to_keras_tuner_best": float(reached["finished_at"].min() - wall_start) if len(reached) else math.inf,
        "physml_early_stopped": int(table["early_stopped"].sum()),
        "trials": len(table),
    }
    print(
        f"seed {seed}: KerasTuner {kt_best:.2f} K in {kt_seconds:.0f} s; physml {figures['physml_best']:.2f} K in {seconds:.0f} s; "
        f"best settings re-scored: KerasTuner's {figures['keras_tuner_best_rescored']:.2f} K {kt_setting}, "
        f"physml's {figures['physml_best_rescored']:.2f} K {physml_setting}",
        flush=True,
    )
    return figures


def measure(args, result: BenchResult) -> None:
    os.environ["PHYSML_PROGRESS"] = "0"
    samples, epochs = (3, 2) if args.quick else (args.samples, args.epochs)
    grace = 1 if args.quick else args.grace_period
    seeds = 1 if args.quick else args.seeds
    startup = min(args.startup_trials, samples)
    parts = scaled_parts(task_dir(args, "supercon"))
    pairs = [one_pair(args, parts, samples, epochs, grace, startup, seed) for seed in range(seeds)]

    kt_mean = float(np.mean([p["keras_tuner_best"] for p in pairs]))
    physml_mean = float(np.mean([p["physml_best"] for p in pairs]))
    speeds = [p["physml_to_keras_tuner_best"] / p["keras_tuner_to_best"] for p in pairs]
    quality, speed = physml_mean / kt_mean, float(np.median(speeds))  # never reached: inf
    reached = sum(math.isfinite(x) for x in speeds)

    result.params.update(
        {
            "task": "supercon dnn (SGD), the seed study's space",
            "space": f"units {UNITS[0]}-{UNITS[1]}, layers {LAYERS[0]}-{LAYERS[1]}, lr {LEARNING_RATE[0]:g}-{LEARNING_RATE[1]:g} log",
            "samples": samples,
            "epochs_per_trial": epochs,
            "batch_size": args.batch_size,
            "split_seed": parts[3],
            "searcher_seeds": seeds,
            "physml_searcher": f"{SEARCHER_NAMES[args.searcher]} ({startup} random start-up trials) + ASHA, "
            "2 trials at a time",
            "physml_asha_grace_period": grace,
            "keras_tuner_searcher": "BayesianOptimization (its default 9 random initial points), one trial at a time",
            "tracking_uri": args.resolved_tracking_uri,
        }
    )
    result.columns = [
        "seed",
        "search",
        "trials",
        "seconds",
        "best val RMSE (K)",
        f"its setting, {RESCORE_SEEDS} inits (K)",
        "s to KerasTuner's best",
    ]
    for seed, p in enumerate(pairs):
        result.add_row(
            seed,
            "KerasTuner",
            samples,
            p["keras_tuner_seconds"],
            p["keras_tuner_best"],
            p["keras_tuner_best_rescored"],
            p["keras_tuner_to_best"],
        )
        reach = p["physml_to_keras_tuner_best"]
        result.add_row(
            seed,
            "physml",
            p["trials"],
            p["physml_seconds"],
            p["physml_best"],
            p["physml_best_rescored"],
            reach if math.isfinite(reach) else None,
        )
        result.metrics.update({f"seed{seed}_{key}": value for key, value in p.items() if math.isfinite(value)})
    result.metrics.update(
        {
            "keras_tuner_mean_best_val_rmse": kt_mean,
            "physml_mean_best_val_rmse": physml_mean,
            "best_val_rmse_physml_over_keras_tuner": quality,
            "searches_reaching_keras_tuner_best": reached,
            "search_seconds_physml_over_keras_tuner": float(
                np.mean([p["physml_seconds"] / p["keras_tuner_seconds"] for p in pairs])
            ),
        }
    )
    if math.isfinite(speed):
        result.metrics["time_to_keras_tuner_best_physml_over_keras_tuner"] = speed
    result.check("mean best val RMSE, physml / KerasTuner", quality, "<= 1 (at least as good)", quality <= 1 + 1e-9)
    # the same comparison paired by searcher seed, with the 95% t-interval of the mean ratio: one 12-trial
    # search's best is one draw of its trials' initial weights as much as a setting (benchmarks/README.md)
    paired, _, paired_low, paired_high = mean_and_interval([p["physml_best"] / p["keras_tuner_best"] for p in pairs])
    paired_figures = {"mean": paired, "ci_low": paired_low, "ci_high": paired_high}  # one seed: no interval
    result.metrics.update({f"paired_best_ratio_{k}": v for k, v in paired_figures.items() if math.isfinite(v)})
    result.check(
        f"best val RMSE physml / KerasTuner, paired by seed (mean; 95% CI [{paired_low:.3f}, {paired_high:.3f}])",
        paired,
        "informational (a CI that holds 1 shows no difference)",
        None,
    )
    settings_ratio = float(
        np.mean([p["physml_best_rescored"] for p in pairs]) / np.mean([p["keras_tuner_best_rescored"] for p in pairs])
    )
    result.metrics["rescored_best_setting_physml_over_keras_tuner"] = settings_ratio
    result.check(
        f"best settings re-scored over {RESCORE_SEEDS} inits, physml / KerasTuner (mean)",
        settings_ratio,
        "informational",
        None,
    )
    result.check(
        "time to KerasTuner's best, physml / KerasTuner (median over seeds; never = inf)",
        speed,
        "< 1 (physml sooner)",
        bool(speed < 1),
    )
    reach_text = f"{speed:.2f}x KerasTuner's time (median)" if math.isfinite(speed) else "never (median)"
    result.headline = (
        f"mean best val RMSE {physml_mean:.2f} K vs KerasTuner's {kt_mean:.2f} K ({quality:.3f}x) over {seeds} "
        f"searcher seeds; physml reached KerasTuner's best in {reached} of {seeds}, {reach_text}"
    )
    result.notes += [
        (
            f"{samples} trials each, {epochs} epochs at batch {args.batch_size}, on physml's training and validation "
            "parts; a trial's score is its last epoch's validation RMSE for both (KerasTuner's own objective, the best "
            "epoch's val_loss, steers its search)"
        ),
        (
            f"'its setting, {RESCORE_SEEDS} inits': the best trial's layers, units and learning rate retrained from "
            f"{RESCORE_SEEDS} fresh initial weights, the same code for both tools (mean val RMSE): the settings each "
            "search found, without the luck of its trials' weight draws"
        ),
        (
            "physml's seconds include starting Ray, loading the data into its object store, and every trial's "
            "test evaluation, figures and MLflow run; KerasTuner's include only its fits"
        ),
    ]


if __name__ == "__main__":
    run_benchmark(BENCHMARK, "physml's Bayesian search vs KerasTuner's", measure, add_arguments)
