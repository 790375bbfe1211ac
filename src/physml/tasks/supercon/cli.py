"""`physml supercon predict`: Tc of formulas from a logged model (train is the platform's command)."""

from __future__ import annotations

import argparse

import pandas as pd

DEFAULT_MODEL = "models:/supercon-gbm@champion"


def cmd_predict(args: argparse.Namespace) -> int:
    import mlflow

    from physml.tasks.composition.formula import featurise_formulas, parse_formula, reading
    from physml.tracking.models import load_logged_model, needs_tracking_server
    from physml.tracking.server import resolve_tracking_uri

    features = featurise_formulas(args.formula)
    if needs_tracking_server(args.model):  # a fresh embedded server would hold no model: never start one
        mlflow.set_tracking_uri(resolve_tracking_uri(args.tracking_uri, autostart=False))
    model = load_logged_model(args.model, task="supercon")
    columns = model.metadata.get_input_schema().input_names()
    predictions = pd.DataFrame(model.predict(features[columns].reset_index(drop=True)))
    data = known_materials(args.data_dir)
    for formula, row in zip(args.formula, predictions.itertuples(index=False)):
        amounts = parse_formula(formula)
        line = f"{formula}\tTc = {row.Tc:.1f} K"
        if "Tc_low" in predictions:  # the model's conformal interval
            line += f" [{row.Tc_low:.1f}, {row.Tc_high:.1f}] ({row.interval_level:.0%})"
        if data is not None:
            line += f"\t{measured_text(data.measured(amounts))}"
        print(f"{line}\t(read as {reading(amounts)})")
    return 0


def known_materials(data_dir: str | None):
    """The supercon data, to print measured Tc beside a prediction; None (and a note) where there is none."""
    from physml.errors import DataValidationError
    from physml.tasks.supercon.data import load_supercon

    try:
        return load_supercon(data_dir)
    except (DataValidationError, OSError):
        print("(no supercon data here: measured Tc not shown; --data-dir or PHYSML_DATA_DIR points at it)")
        return None


def measured_text(tc: pd.Series) -> str:
    if tc.empty:
        return "not in the data set"
    if len(tc) == 1:
        return f"measured {tc.iloc[0]:.1f} K"
    return f"measured {tc.min():.1f}-{tc.max():.1f} K ({len(tc)} entries, median {tc.median():.1f} K)"


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
    predict.add_argument(
        "--data-dir", help="supercon data, for the measured Tc of formulas in it (default: $PHYSML_DATA_DIR/supercon)"
    )
    predict.set_defaults(func=cmd_predict)
