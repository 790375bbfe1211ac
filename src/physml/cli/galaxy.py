"""`physml galaxy train`."""

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


def _overrides(args: argparse.Namespace) -> dict:
    flags = {
        "data.target": none_if_empty(args.target), "data.limit": args.limit, "seed": args.seed,
        "experiment": none_if_empty(args.experiment), "train.epochs": args.epochs,
        "train.batch_size": args.batch_size, "train.learning_rate": args.learning_rate,
    }  # fmt: skip
    if args.skip_bad_images:
        flags["data.skip_bad_images"] = True
    return collect_overrides(flags, args)


def cmd_train(args: argparse.Namespace) -> int:
    import mlflow

    from physml.config import load_galaxy_config
    from physml.tasks import galaxy
    from physml.tracking.report import galaxy_summary, print_ui_link
    from physml.tracking.server import resolve_tracking_uri

    config = load_galaxy_config(args.config, none_if_empty(args.preset), _overrides(args))
    mlflow.set_tracking_uri(resolve_tracking_uri(args.tracking_uri, port=args.port))
    result = within_project_run(lambda: galaxy.run(config, none_if_empty(args.data_dir)))
    print(galaxy_summary(result))
    print_ui_link(result.run_id)
    return 3 if result.diverged else 0


def add_commands(sub) -> None:
    galaxy = sub.add_parser("galaxy", help="Galaxy Zoo morphology from images (Kaggle Galaxy Challenge)")
    galaxy_sub = galaxy.add_subparsers(dest="action", required=True)
    train = galaxy_sub.add_parser("train", help="train, evaluate, log and register the CNN")
    train.add_argument("--preset", help="a preset of projects/galaxy/config.yaml (demo, quick)")
    train.add_argument("--config", help="config YAML (default: projects/galaxy/config.yaml)")
    train.add_argument("--target", help="classes4 (default), classes5 or regression (37 vote fractions)")
    train.add_argument("--epochs", type=optional_int)
    train.add_argument("--batch-size", type=optional_int)
    train.add_argument("--learning-rate", type=optional_float)
    train.add_argument("--seed", type=optional_int)
    train.add_argument("--limit", type=optional_int, help="use only the first N galaxies (0 = all)")
    train.add_argument("--skip-bad-images", action="store_true", help="skip (and count) corrupt JPEGs instead of stopping")
    train.add_argument("--experiment", help="MLflow experiment name (default: galaxy)")
    train.add_argument("--data-dir", help="folder with training_solutions_rev1.csv and images_training_rev1/")
    train.add_argument("--no-register", action="store_true", help="do not register the model")
    train.add_argument("--set", action="append", metavar="KEY=VALUE", help="any config key, e.g. model.dense_units=64")
    add_tracking_args(train)
    train.set_defaults(func=cmd_train)
