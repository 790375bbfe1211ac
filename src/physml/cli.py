"""The physml command line: parse, load config, call a task. Nothing here trains or logs by itself."""

from __future__ import annotations

import argparse
import os
import sys

from physml.errors import PhysmlError


def _add_tracking_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, "
                        "else the embedded server, started if needed)")
    parser.add_argument("--port", type=int, default=5000, help="port of the embedded server if it must start")


def _none_if_empty(value: str | None) -> str | None:
    """MLproject passes empty strings for unset parameters."""
    return value if value not in (None, "", "none", "None") else None


def optional_int(text: str) -> int | None:
    """An integer flag that MLproject may pass as an empty string (unset)."""
    return int(float(text)) if _none_if_empty(text) else None


def optional_float(text: str) -> float | None:
    return float(text) if _none_if_empty(text) else None


def cmd_server(args: argparse.Namespace) -> int:
    from physml.tracking import server

    if args.action == "start":
        info = server.start(home=args.home, port=args.port, host=args.host)
        print(f"MLflow server running at {info.url} (pid {info.pid}, store {info.home})")
        print(f"  export MLFLOW_TRACKING_URI={info.url}")
    elif args.action == "stop":
        info = server.stop(home=args.home)
        print(f"stopped the MLflow server at {info.url} (pid {info.pid})" if info else "no server was running")
    else:
        info = server.status(home=args.home)
        if info is None:
            print("no embedded MLflow server is running (start one with `physml server start`)")
            return 1
        print(f"MLflow server running at {info.url} (pid {info.pid}, store {info.home})")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from pathlib import Path

    from physml.data.paths import cache_root

    if args.action == "download":
        from physml.data.download import UCI_SUPERCON, download_archive

        dest = Path(args.data_dir) if args.data_dir else cache_root() / "supercon"
        download_archive(UCI_SUPERCON, dest, url=args.url, sha256=args.sha256)
        print(f"supercon data in {dest}")
    if args.action in ("download", "check"):
        from physml.data.supercon import load_supercon

        data = load_supercon(args.data_dir if args.action == "check" else dest)
        groups = len(set(data.composition_groups()))
        print(f"{data.train_path}: {len(data.tc)} materials, {data.features.shape[1]} features, "
              f"{groups} distinct compositions, Tc {data.tc.min():.3g}-{data.tc.max():.3g} K: OK")
    return 0


def _supercon_overrides(args: argparse.Namespace) -> dict:
    flags = {
        "data.feature_set": _none_if_empty(args.feature_set), "data.split": _none_if_empty(args.split), "seed": args.seed,
        "experiment": _none_if_empty(args.experiment), "dnn.epochs": args.epochs, "dnn.batch_size": args.batch_size,
        "dnn.learning_rate": args.learning_rate, "dnn.layers": args.layers, "dnn.units": args.units,
        "dnn.optimizer": _none_if_empty(args.optimizer), "gbm.n_estimators": args.n_estimators,
    }  # fmt: skip
    overrides = {key: value for key, value in flags.items() if value is not None}
    if args.no_register:
        overrides["registry.register"] = False
    from physml.config import parse_override

    overrides.update(dict(parse_override(text) for text in args.set or []))
    return overrides


def cmd_supercon_train(args: argparse.Namespace) -> int:
    import mlflow

    from physml.config import MODELS, load_supercon_config
    from physml.tasks import supercon
    from physml.tracking.report import print_results
    from physml.tracking.server import resolve_tracking_uri

    config = load_supercon_config(args.config, _none_if_empty(args.preset), _supercon_overrides(args))
    models = list(MODELS) if args.model == "all" else [args.model]
    mlflow.set_tracking_uri(resolve_tracking_uri(args.tracking_uri, port=args.port))
    if os.environ.get("MLFLOW_RUN_ID"):  # launched by `mlflow run`: the models become its child runs
        with mlflow.start_run():
            results = supercon.run(config, models, _none_if_empty(args.data_dir))
    else:
        results = supercon.run(config, models, _none_if_empty(args.data_dir))
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="physml", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    server = sub.add_parser("server", help="start, stop or check the embedded MLflow tracking server")
    server.add_argument("action", choices=["start", "stop", "status"])
    server.add_argument("--port", type=int, default=5000)
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--home", help="store directory (default: ./.physml or $PHYSML_HOME)")
    server.set_defaults(func=cmd_server)

    data = sub.add_parser("data", help="download or check a task's data")
    data.add_argument("action", choices=["download", "check"])
    data.add_argument("task", choices=["supercon"])
    data.add_argument("--data-dir", help="the task's folder (default: $PHYSML_DATA_DIR/<task> or the cache)")
    data.add_argument("--url", help="download from this URL instead of the public source")
    data.add_argument("--sha256", help="expected SHA-256 of the archive, overriding the pinned one")
    data.set_defaults(func=cmd_data)

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
    _add_tracking_args(train)
    train.set_defaults(func=cmd_supercon_train)

    predict = supercon_sub.add_parser("predict", help="predict Tc (K) of formulas with a logged model")
    predict.add_argument("--formula", action="append", required=True, help="e.g. YBa2Cu3O7 (repeatable)")
    predict.add_argument("--model", default="models:/supercon-gbm@champion",
                         help="model URI: models:/NAME@ALIAS, models:/NAME/VERSION or runs:/RUN_ID/model")
    _add_tracking_args(predict)
    predict.set_defaults(func=cmd_supercon_predict)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except PhysmlError as exc:
        print(f"physml: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
