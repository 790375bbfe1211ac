"""`physml <task> train` for every registered task, plus the task's own actions (e.g. predict).

The flags common to every task are here; a task adds its own (`Task.train_flags`, each setting one
config key) and further actions (`Task.add_commands`).
"""

from __future__ import annotations

import argparse
import os

from physml.cli.common import (
    add_tracking_args,
    collect_overrides,
    experiment_from_env,
    none_if_empty,
    optional_float,
    optional_int,
    within_project_run,
)
from physml.errors import ConfigError
from physml.tasks.base import Flag, Task

FLAG_TYPES = {int: optional_int, float: optional_float, str: none_if_empty}


def flag_overrides(task: Task, args: argparse.Namespace) -> dict:
    flags = {"seed": args.seed, "experiment": none_if_empty(args.experiment)}
    for flag in task.train_flags:
        value = getattr(args, flag_dest(flag))
        flags[flag.key] = (True if value else None) if flag.type is bool else value
    return collect_overrides(flags, args)


def model_choices(task: Task) -> list[str]:
    """The task's models, and "all" (the default) when it has several."""
    return [*task.models, "all"] if len(task.models) > 1 else list(task.models)


def flag_dest(flag: Flag) -> str:
    return flag.name.lstrip("-").replace("-", "_")


def cmd_train(args: argparse.Namespace) -> int:
    import mlflow

    from physml.judging.model_card import log_report_and_card
    from physml.tracking.runs import run_task
    from physml.tracking.server import resolve_tracking_uri
    from physml.tracking.sweep import sweep_quietly
    from physml.tracking.ui_links import print_ui_link

    task: Task = args.task_object
    overrides = flag_overrides(task, args)
    choices = model_choices(task)
    model = none_if_empty(args.model) or choices[-1]
    if model not in choices:
        raise ConfigError(f"--model must be one of {', '.join(choices)} for {task.name}, got {model!r}")
    models = list(task.all_models or task.models) if model == "all" else [model]
    config = task.load_config(args.config, none_if_empty(args.preset), overrides)  # bad settings stop here
    uri = resolve_tracking_uri(args.tracking_uri, port=args.port)
    mlflow.set_tracking_uri(uri)
    sweep_quietly(uri)  # runs left RUNNING by processes killed here (tracking/sweep.py)
    if "experiment" not in overrides and (experiment := experiment_from_env(uri)):
        config.experiment = experiment
    data_dir = none_if_empty(args.data_dir)
    if storage := none_if_empty(args.storage):
        os.environ["PHYSML_TRAIN_STORAGE"] = storage  # physml.models.data_parallel.storage() reads it
    results = within_project_run(lambda: run_task(task, config, models, data_dir))
    print(task.summary(results))
    anchors = task.anchors_for(config, results)
    if anchors:
        print(f"\npublished figures on this split (projects/{task.name}/anchors.yaml):")
        for anchor in anchors:
            model = f"{anchor.model} " if anchor.model else ""
            print(f"  {model}{anchor.metric} {anchor.shown}  {anchor.source}")
    for result in results:  # what a person reads first, from the run's logged numbers
        if result.run_id and not result.diverged:
            report = log_report_and_card(task, result.run_id, task.anchors_for(config, [result]), data_dir)
            print(f"report ({result.model}): runs:/{result.run_id}/{report} (and report.html, card.md)")
    print_ui_link(results[0].run_id if results else None)
    return 3 if any(result.diverged for result in results) else 0


def add_train(actions: argparse._SubParsersAction, task: Task) -> None:
    train = actions.add_parser(
        "train",
        help="train, evaluate, log and register models",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    choices = model_choices(task)
    train.add_argument("--model", default=choices[-1], help=f"one of {', '.join(choices)}")
    presets = ", ".join(task.presets()) or "none"
    train.add_argument("--preset", help=f"a preset of projects/{task.name}/config.yaml ({presets})")
    train.add_argument("--config", help=f"config YAML (default: projects/{task.name}/config.yaml)")
    train.add_argument("--seed", type=optional_int, help="seed of the split and the model (default: the config's)")
    for flag in task.train_flags:
        if flag.type is bool:
            train.add_argument(flag.name, action="store_true", help=f"{flag.help} (sets {flag.key})")
        else:
            # choices are named, not enforced here: MLproject passes "" for unset ones, and the
            # config's validation names the key when a value is wrong
            among = f"; one of {', '.join(flag.choices)}" if flag.choices else ""
            train.add_argument(flag.name, type=FLAG_TYPES[flag.type], help=f"{flag.help} (sets {flag.key}{among})")
    train.add_argument("--experiment", help="MLflow experiment (default: $MLFLOW_EXPERIMENT_NAME, else the config's)")
    train.add_argument("--data-dir", help=f"the task's data folder (default: $PHYSML_DATA_DIR/{task.data_folder})")
    train.add_argument("--no-register", action="store_true", help="do not register the models")
    train.add_argument(
        "--storage",
        help="where Ray Train workers (--workers N) checkpoint each epoch: a folder every node sees, or "
        "s3://bucket/prefix (default: $PHYSML_TRAIN_STORAGE, else a temporary folder on this machine)",
    )
    train.add_argument("--set", action="append", metavar="KEY=VALUE", help="any config key, e.g. seed=7")
    add_tracking_args(train)
    train.set_defaults(func=cmd_train, task_object=task)


def add_commands(sub: argparse._SubParsersAction) -> None:
    from physml.tasks import registered

    for task in registered().values():
        parser = sub.add_parser(task.name, help=task.description, description=task.description)
        actions = parser.add_subparsers(dest="action", required=True)
        add_train(actions, task)
        task.add_commands(actions)
        for name, action in actions.choices.items():  # the task's own actions get the tracking flags too
            if name != "train":
                add_tracking_args(action)
