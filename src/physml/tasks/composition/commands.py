"""A composition task's own actions: `predict` (formulas to the target, with a logged model) and `cv`
(the outer-fold protocol, cv.py). `train` is the platform's command."""

from __future__ import annotations

import argparse


def cmd_predict(args: argparse.Namespace) -> int:
    import mlflow
    import pandas as pd

    from physml.tasks.composition.elements import completed_table
    from physml.tasks.composition.formula import parse_formula, reading
    from physml.tracking.models import load_logged_model, needs_tracking_server
    from physml.tracking.server import resolve_tracking_uri

    task = args.task_object
    amounts = [parse_formula(formula, completed_table()) for formula in args.formula]  # a bad one: one line
    if needs_tracking_server(args.model):  # a fresh embedded server would hold no model: never start one
        mlflow.set_tracking_uri(resolve_tracking_uri(args.tracking_uri, autostart=False))
    model = load_logged_model(args.model, task=task.name)
    predictions = model.predict(pd.DataFrame({task.spec.composition: args.formula}))
    output = task.target.label
    units = f" {task.spec.units}" if task.spec.units else ""
    for formula, parsed, row in zip(args.formula, amounts, predictions.to_dict("records")):
        line = f"{formula}\t{output} = {row[output]:.4g}{units}"
        if f"{output}_low" in row:
            line += f" [{row[f'{output}_low']:.4g}, {row[f'{output}_high']:.4g}] ({row['interval_level']:.0%})"
        if f"{output}_probability" in row:
            line += f" (probability {row[f'{output}_probability']:.3f})"
        print(f"{line}\t(read as {reading(parsed)})")
    return 0


def default_model(task) -> str:
    """The config's `model` (a broken config.yaml is reported when the task runs, not here)."""
    from physml.errors import PhysmlError

    try:
        return task.load_config().model
    except PhysmlError:
        return "gbm"


def add_predict(actions: argparse._SubParsersAction, task) -> None:
    predict = actions.add_parser(
        "predict",
        help=f"predict {task.target.label} of formulas with a logged model",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    predict.add_argument(
        "--formula", action="append", required=True, help="a chemical formula, e.g. Fe2O3 (repeatable)"
    )
    predict.add_argument(
        "--model",
        default=f"models:/{task.name}-{default_model(task)}@champion",
        help="model URI: models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN_ID/model or a local folder",
    )
    predict.set_defaults(func=cmd_predict, task_object=task)


def cmd_cv(args: argparse.Namespace) -> int:
    import mlflow

    from physml.config.core import parse_override
    from physml.tasks.composition.cv import run_cv
    from physml.tracking.project_run import experiment_from_env, within_project_run
    from physml.tracking.server import resolve_tracking_uri
    from physml.tracking.ui_links import print_ui_link

    task = args.task_object
    overrides = {"registry.log_model": False, "registry.register": False, "evaluation.explain": False}
    overrides |= {"seed": args.seed} if args.seed is not None else {}
    overrides |= {"model": args.model} if args.model else {}
    overrides |= dict(parse_override(item) for item in args.set or [])
    config = task.load_config(args.config or None, args.preset or None, overrides)  # a wrong key is one line
    data = task.load_data(config, args.data_dir or None)  # a bad file stops here, before any run
    uri = resolve_tracking_uri(args.tracking_uri, port=args.port)
    mlflow.set_tracking_uri(uri)
    if "experiment" not in overrides and (experiment := experiment_from_env(uri)):
        config.experiment = experiment
    result = within_project_run(lambda: run_cv(task, config, config.model, data, args.fold))
    print_cv(task, result)
    print_ui_link(result.parent_run_id)
    return 0


def optional_int(text: str) -> int | None:
    """An int, or None for "" (what `mlflow run` passes for an unset parameter)."""
    return int(text) if text.strip() else None


def print_cv(task, result) -> None:
    from physml.display import text_table
    from physml.tasks.composition.cv import paired_differences

    rows = [[f"fold {k}", f"{value:.4f}"] for k, value in zip(result.folds, result.per_fold, strict=True)]
    rows.append(["mean ± std", f"{result.mean:.4f} ± {result.std:.4f}"])
    print(text_table(["", result.metric], rows))
    anchors = [a for a in task.anchors() if a.metric == result.metric]
    if anchors:
        print(f"\nthe leaderboard on the same protocol (projects/{task.name}/anchors.yaml):")
        for anchor in anchors:
            print(f"  {anchor.metric} {anchor.shown}  {anchor.source}")
    if paired := paired_differences(task, dict(zip(result.folds, result.per_fold, strict=True))):
        print(f"\npaired per fold (physml's {result.metric} minus the entry's; mean, folds physml is better on):")
        for pair in paired:
            print(f"  {pair.mean:+.4f}  {pair.better}/{len(pair.differences)}  {pair.source}")
    print(f"predictions: runs:/{result.parent_run_id}/predictions.csv; report: runs:/{result.parent_run_id}/report.md")


def add_cv(actions: argparse._SubParsersAction, task) -> None:
    cv = actions.add_parser(
        "cv",
        help="nested cross-validation on the task's outer folds: a parent run, a child per fold",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    cv.add_argument("--model", help=f"one of {', '.join(task.models)} (default: the config's `model`)")
    cv.add_argument("--preset", help=f"a preset of the task's config ({', '.join(task.presets())})")
    cv.add_argument("--config", help="config YAML merged over the task's")
    cv.add_argument("--seed", type=optional_int, help="seed of the inner parts and the model (default: the config's)")
    cv.add_argument("--fold", type=int, action="append", help="run only this outer fold (repeatable; default: all)")
    cv.add_argument("--data-dir", help=f"the task's data folder (default: $PHYSML_DATA_DIR/{task.data_folder})")
    cv.add_argument("--set", action="append", metavar="KEY=VALUE", help="any config key, e.g. gbm.max_depth=8")
    cv.set_defaults(func=cmd_cv, task_object=task)
