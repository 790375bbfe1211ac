"""`physml tune TASK --search grid|bayes|pbt`: a Ray Tune search over any registered task."""

from __future__ import annotations

import argparse

from physml.cli.common import (
    add_tracking_args,
    at_least,
    experiment_from_env,
    none_if_empty,
    optional_float,
)


def cmd_tune(args: argparse.Namespace) -> int:
    from physml.config import parse_override
    from physml.tracking.server import resolve_tracking_uri
    from physml.tracking.sweep import sweep_quietly
    from physml.tuning.options import SearchOptions
    from physml.tuning.search import run_search

    uri = resolve_tracking_uri(args.tracking_uri, port=args.port)
    sweep_quietly(uri)  # runs left RUNNING by processes killed here (tracking/sweep.py)
    overrides = dict(parse_override(text) for text in args.set or [])
    options = SearchOptions(
        task=args.task,
        kind=args.search,
        num_samples=args.num_samples,
        max_concurrent=args.max_concurrent or 2,  # MLproject passes "" for unset
        address=none_if_empty(args.address),
        resume=args.resume,
        data_dir=none_if_empty(args.data_dir),
        preset=none_if_empty(args.preset),
        overrides=overrides,
        epochs=args.epochs,
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial,
        max_failures=args.max_failures,
        checkpoint_every=args.checkpoint_every,
        storage=none_if_empty(args.storage),
        name=none_if_empty(args.name),
        retrain_best=not args.no_retrain,
        spec_path=none_if_empty(args.spec),
        experiment_from=experiment_from_env,  # after the spec is checked: an ID is looked up on the server
    )
    outcome = run_search(options, uri)
    table = outcome.results
    print(
        f"\n{len(table)} trials: {int(table['diverged'].sum())} diverged, {int(table['early_stopped'].sum())} "
        f"stopped early by ASHA, {int(table['error'].sum())} errored"
    )
    print(f"best {outcome.best_config} -> {outcome.best_metric:.4g}")
    retrained = f"; retrained best: run {outcome.best_run_id}" if outcome.best_run_id else ""
    print(f"search run {outcome.parent_run_id}{retrained}")
    if outcome.best_run_id:
        report_retrained(options, outcome, uri)
    return 0


def report_retrained(options, outcome, uri: str) -> None:
    """The retrained best (the registry's new candidate) gets the report every trained run has."""
    from mlflow import MlflowClient

    from physml.judging.model_card import log_report_and_card
    from physml.run_result import RunResult
    from physml.tasks import get_task

    task = get_task(options.task)
    run = MlflowClient(uri).get_run(outcome.best_run_id)
    config = task.load_config(preset=options.preset, overrides={**options.overrides, **outcome.best_config})
    result = RunResult(model=run.data.tags.get("model", ""), run_id=run.info.run_id, metrics=run.data.metrics)
    report = log_report_and_card(task, run.info.run_id, task.anchors_for(config, [result]), options.data_dir)
    print(f"report (retrained best): runs:/{run.info.run_id}/{report} (and report.html)")


def add_commands(sub) -> None:
    from physml.tasks import task_names
    from physml.tuning.options import SEARCHES

    tune = sub.add_parser(
        "tune",
        help="Ray Tune grid or Bayesian search, each trial a nested MLflow run",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    tune.add_argument("task", choices=task_names(), help="a registered task")
    tune.add_argument(
        "--search",
        choices=list(SEARCHES),
        default="bayes",
        help="a search of the spec: grid, bayes (Optuna TPE + ASHA) or pbt (population-based training)",
    )
    tune.add_argument(
        "--spec",
        help="search spec: a YAML file, or a name beside the task's search.yaml (gbm: search_gbm.yaml); "
        "default: projects/<task>/search.yaml",
    )
    tune.add_argument("--num-samples", type=at_least(1), help="Bayesian trials (default: the spec's)")
    tune.add_argument("--max-concurrent", type=at_least(1), default=2, help="trials at once")
    tune.add_argument("--address", help="Ray cluster address: 'auto' joins a running cluster (default: a local Ray)")
    tune.add_argument("--resume", action="store_true", help="continue an interrupted search, keeping finished trials")
    tune.add_argument("--epochs", type=at_least(1), help="epochs per trial (overrides the spec)")
    tune.add_argument("--preset", help="base preset of projects/<task>/config.yaml")
    tune.add_argument("--set", action="append", metavar="KEY=VALUE", help="config key applied to every trial")
    tune.add_argument(
        "--cpus-per-trial",
        type=at_least(0.0, optional_float),
        default=1.0,
        help="CPUs Ray reserves per trial (0: a trial whose training asks Ray for its own workers, e.g. --set dnn.workers=2)",
    )
    tune.add_argument("--gpus-per-trial", type=at_least(0, optional_float), default=0.0, help="GPU fraction per trial")
    tune.add_argument("--max-failures", type=at_least(0), default=2, help="retries of a trial whose worker node died")
    tune.add_argument(
        "--checkpoint-every",
        type=at_least(1),
        default=1,
        help="epochs between a trial's checkpoints (a restarted trial goes on from its last one)",
    )
    tune.add_argument("--storage", help="Tune state folder (default: ./.physml/ray_results; shared on a cluster)")
    tune.add_argument("--name", help="search name (default: <task>-<search>); --resume finds it by this name")
    tune.add_argument("--data-dir", help="the task's data folder")
    tune.add_argument("--no-retrain", action="store_true", help="skip retraining and registering the best config")
    add_tracking_args(tune)
    tune.set_defaults(func=cmd_tune)
