"""`physml supercon train|predict`."""

from __future__ import annotations

import argparse

from physml.cli.common import (
    add_tracking_args,
    collect_overrides,
    none_if_empty,
    optional_float,
    optional_int,
    within_project_run,
)


def _supercon_overrides(args: argparse.Namespace) -> dict:
    flags = {
        "data.feature_set": none_if_empty(args.feature_set), "data.split": none_if_empty(args.split), "seed": args.seed,
        "experiment": none_if_empty(args.experiment), "dnn.epochs": args.epochs, "dnn.batch_size": args.batch_size,
        "dnn.learning_rate": args.learning_rate, "dnn.layers": args.layers, "dnn.units": args.units,
        "dnn.optimizer": none_if_empty(args.optimizer), "gbm.n_estimators": args.n_estimators,
    }  # fmt: skip
    return collect_overrides(flags, args)


def cmd_supercon_train(args: argparse.Namespace) -> int:
    import mlflow

    from physml.config import MODELS, load_supercon_config
    from physml.tasks import supercon
    from physml.tracking.report import print_results
    from physml.tracking.server import resolve_tracking_uri

    config = load_supercon_config(args.config, none_if_empty(args.preset), _supercon_overrides(args))
    models = list(MODELS) if args.model == "all" else [args.model]
    mlflow.set_tracking_uri(resolve_tracking_uri(args.tracking_uri, port=args.port))
    results = within_project_run(lambda: supercon.run(config, models, none_if_empty(args.data_dir)))
    print_results(results)
    return 3 if any(result.diverged for result in results) else 0


def cmd_supercon_predict(args: argparse.Namespace) -> int:
    import mlflow

    from physml.data.formula import featurise_formulas
    from physml.tracking.server import resolve_tracking_uri

    features = featurise_formulas(args.formula)
    mlflow.set_tracking_uri(resolve_tracking_uri(args.tracking_uri, port=args.port))
    model = mlflow.pyfunc.load_model(args.model)
    columns = model.metadata.get_input_schema().input_names()
    predictions = model.predict(features[columns].reset_index(drop=True))
    for formula, tc in zip(args.formula, predictions):
        print(f"{formula}\tTc = {float(tc):.1f} K")
    return 0


def add_commands(sub) -> None:
    supercon = sub.add_parser("supercon", help="superconducting Tc from composition (UCI 464)")
    supercon_sub = supercon.add_subparsers(dest="action", required=True)

    train = supercon_sub.add_parser("train", help="train, evaluate, log and register models")
    train.add_argument("--model", choices=["linear", "gbm", "dnn", "all"], default="all")
    train.add_argument("--preset", help="a preset of projects/supercon/config.yaml (seed, demo, quick)")
    train.add_argument("--config", help="config YAML (default: projects/supercon/config.yaml)")
    train.add_argument("--feature-set", help="all81 (default) or seed17")
    train.add_argument("--split", help="random (default, 70:30) or grouped (by composition)")
    train.add_argument("--seed", type=optional_int)
    train.add_argument("--epochs", type=optional_int)
    train.add_argument("--batch-size", type=optional_int)
    train.add_argument("--learning-rate", type=optional_float)
    train.add_argument("--layers", type=optional_int)
    train.add_argument("--units", type=optional_int)
    train.add_argument("--optimizer", help="adam or sgd")
    train.add_argument("--n-estimators", type=optional_int, help="boosting rounds of the gbm model")
    train.add_argument("--experiment", help="MLflow experiment name (default: supercon)")
    train.add_argument("--data-dir", help="folder with train.csv and unique_m.csv")
    train.add_argument("--no-register", action="store_true", help="do not register the models")
    train.add_argument("--set", action="append", metavar="KEY=VALUE", help="any config key, e.g. gbm.max_depth=6")
    add_tracking_args(train)
    train.set_defaults(func=cmd_supercon_train)

    predict = supercon_sub.add_parser("predict", help="predict Tc (K) of formulas with a logged model")
    predict.add_argument("--formula", action="append", required=True, help="e.g. YBa2Cu3O7 (repeatable)")
    predict.add_argument("--model", default="models:/supercon-gbm@champion",
                         help="model URI: models:/NAME@ALIAS, models:/NAME/VERSION or runs:/RUN_ID/model")
    add_tracking_args(predict)
    predict.set_defaults(func=cmd_supercon_predict)
