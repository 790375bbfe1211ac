"""`physml promote` and `physml models list`."""

from __future__ import annotations

import argparse

from physml.cli.common import add_tracking_args

KEY_METRICS = ("test_r2", "test_rmse", "test_accuracy", "test_macro_f1")


def cmd_promote(args: argparse.Namespace) -> int:
    from mlflow import MlflowClient

    from physml.tracking.promotion import promote
    from physml.tracking.server import resolve_tracking_uri

    client = MlflowClient(resolve_tracking_uri(args.tracking_uri, autostart=False))
    decision = promote(client, args.model, args.metric, args.min, args.max, args.alias, args.from_alias)
    verdict = "promoted" if decision.promoted else "not promoted"
    print(f"{args.model} v{decision.candidate_version}: {verdict} to {args.alias}: {decision.reason}")
    return 0 if decision.promoted else 1


def cmd_list(args: argparse.Namespace) -> int:
    from mlflow import MlflowClient

    from physml.tracking.server import resolve_tracking_uri

    client = MlflowClient(resolve_tracking_uri(args.tracking_uri, autostart=False))
    models = client.search_registered_models()
    header = f"{'model':<18} {'version':>7}  {'aliases':<20} " + " ".join(f"{m:>13}" for m in KEY_METRICS) + "  run"
    print(header)
    print("-" * len(header))
    for model in sorted(models, key=lambda m: m.name):
        aliases_of: dict[str, list[str]] = {}
        for alias, version in (model.aliases or {}).items():
            aliases_of.setdefault(str(version), []).append(alias)
        versions = client.search_model_versions(f"name='{model.name}'")
        for version in sorted(versions, key=lambda v: int(v.version), reverse=True):
            metrics = client.get_run(version.run_id).data.metrics if version.run_id else {}
            values = " ".join(f"{metrics[m]:>13.4g}" if m in metrics else f"{'-':>13}" for m in KEY_METRICS)
            aliases = ",".join(sorted(aliases_of.get(str(version.version), []))) or "-"
            print(f"{model.name:<18} {version.version:>7}  {aliases:<20} {values}  {version.run_id}")
    return 0


def add_commands(sub) -> None:
    promote = sub.add_parser("promote", help="move an alias to the candidate version if it beats the current one")
    promote.add_argument("model", help="registered model name, e.g. supercon-dnn")
    promote.add_argument("--metric", required=True, help="e.g. test_r2 (higher is better) or test_rmse (lower is better)")
    promote.add_argument("--min", type=float, help="gate: the candidate's metric must be at least this")
    promote.add_argument("--max", type=float, help="gate: the candidate's metric must be at most this")
    promote.add_argument("--alias", default="champion")
    promote.add_argument("--from-alias", default="candidate")
    add_tracking_args(promote)
    promote.set_defaults(func=cmd_promote)

    models = sub.add_parser("models", help="registered models")
    models_sub = models.add_subparsers(dest="action", required=True)
    listing = models_sub.add_parser("list", help="models, versions, aliases and key metrics")
    add_tracking_args(listing)
    listing.set_defaults(func=cmd_list)
