"""`physml supercon predict`: Tc of formulas from a logged model (train is the platform's command)."""

from __future__ import annotations

import argparse

from physml.cli.common import add_tracking_args

DEFAULT_MODEL = "models:/supercon-gbm@champion"


def cmd_predict(args: argparse.Namespace) -> int:
    import mlflow

    from physml.tasks.supercon.formula import featurise_formulas, parse_formula, reading
    from physml.tracking.models import load_logged_model, needs_tracking_server
    from physml.tracking.server import resolve_tracking_uri

    features = featurise_formulas(args.formula)
    if needs_tracking_server(args.model):  # a fresh embedded server would hold no model: never start one
        mlflow.set_tracking_uri(resolve_tracking_uri(args.tracking_uri, autostart=False))
    model = load_logged_model(args.model)
    columns = model.metadata.get_input_schema().input_names()
    predictions = model.predict(features[columns].reset_index(drop=True))
    for formula, tc in zip(args.formula, predictions):
        print(f"{formula}\tTc = {float(tc):.1f} K\t(read as {reading(parse_formula(formula))})")
    return 0


def add_predict(actions: argparse._SubParsersAction) -> None:
    predict = actions.add_parser(
        "predict",
        help="predict Tc (K) of formulas with a logged model",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    predict.add_argument("--formula", action="append", required=True, help="e.g. YBa2Cu3O7 (repeatable)")
    predict.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="model URI: models:/NAME@ALIAS, models:/NAME/VERSION or runs:/RUN_ID/model",
    )
    add_tracking_args(predict)
    predict.set_defaults(func=cmd_predict)
