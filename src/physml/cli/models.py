"""`physml promote` and `physml models list`."""

from __future__ import annotations

import argparse

from physml.cli.common import add_tracking_args


def cmd_promote(args: argparse.Namespace) -> int:
    import sys

    from mlflow import MlflowClient

    from physml.judging.promotion import decision_metric, metric_list, promote
    from physml.tracking.server import resolve_tracking_uri

    metric = decision_metric(args.metric, args.on)
    if metric.startswith("test_"):
        print(
            f"physml: warning: deciding on the test part ({metric}): choosing by it makes the test figures "
            f"optimistic; the validation part decides by default (--metric {metric.removeprefix('test_')})",
            file=sys.stderr,
        )
    client = MlflowClient(resolve_tracking_uri(args.tracking_uri, autostart=False))
    decision = promote(
        client,
        args.model,
        metric,
        args.min,
        args.max,
        args.alias,
        args.from_alias,
        args.mode,
        args.coverage_tolerance,
        tuple(args.ignore_evidence or ()),
    )
    verdict = "promoted" if decision.promoted else "not promoted"
    print(f"{args.model} v{decision.candidate_version}: {verdict} to {args.alias}: {decision.reason}")
    if decision.candidate_test:
        print(f"  test part (reported, not decided on): {metric_list(decision.candidate_test)}")
    if decision.candidate_coverage:
        print(f"  uncertainty: {decision.candidate_coverage.text()}")
    return 0 if decision.promoted else 1


def headline_metrics(run) -> str:
    """The run's task's headline metrics (`Task.headline`), else its test metrics."""
    from physml.tasks import registered

    metrics = run.data.metrics if run else {}
    task = registered().get(run.data.tags.get("task", "")) if run else None
    names = (
        [m for m in task.headline if m in metrics] if task else sorted(m for m in metrics if m.startswith("test_"))[:3]
    )
    return ", ".join(f"{m}={metrics[m]:.4g}" for m in names) or "-"


def cmd_list(args: argparse.Namespace) -> int:
    from mlflow import MlflowClient

    from physml.display import text_table
    from physml.tracking.server import resolve_tracking_uri

    client = MlflowClient(resolve_tracking_uri(args.tracking_uri, autostart=False))
    rows = []
    for model in sorted(client.search_registered_models(), key=lambda m: m.name):
        aliases_of: dict[str, list[str]] = {}
        for alias, version in (model.aliases or {}).items():
            aliases_of.setdefault(str(version), []).append(alias)
        versions = client.search_model_versions(f"name='{model.name}'")
        for version in sorted(versions, key=lambda v: int(v.version), reverse=True):
            run = client.get_run(version.run_id) if version.run_id else None
            aliases = ",".join(sorted(aliases_of.get(str(version.version), []))) or "-"
            rows.append([model.name, int(version.version), aliases, headline_metrics(run), version.run_id or "-"])
    print(text_table(["model", "version", "aliases", "key metrics", "run"], rows))
    return 0


def add_commands(sub) -> None:
    from physml.judging.evidence_gate import CHECKS

    promote = sub.add_parser(
        "promote",
        help="move an alias to the candidate version if it beats the current one",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    promote.add_argument("model", help="registered model name, e.g. the name `models list` shows")
    promote.add_argument(
        "--metric",
        required=True,
        help="the metric to decide on, as the model's task declares it: rmse decides on the validation part "
        "(val_rmse); a prefixed name (test_rmse) is used as given",
    )
    promote.add_argument(
        "--on", choices=["val", "test"], default="val", help="the part a metric without a prefix is read on"
    )
    promote.add_argument("--mode", choices=["min", "max"], help="lower or higher is better (default: the task's)")
    promote.add_argument("--min", type=float, help="gate: the candidate's metric must be at least this")
    promote.add_argument("--max", type=float, help="gate: the candidate's metric must be at most this")
    promote.add_argument(
        "--coverage-tolerance",
        type=float,
        help="gate: the candidate's interval (or set) coverage on the decision part must be within this of its "
        "level, and its interval no wider than the champion's at the same level (e.g. 0.03); without it the "
        "task's tolerance applies where the run logged a coverage, widened by the part's sampling noise",
    )
    promote.add_argument(
        "--ignore-evidence",
        action="append",
        choices=CHECKS,
        metavar="CHECK",
        help=f"override one evidence check ({', '.join(CHECKS)}); repeat for several; the decision records it",
    )
    promote.add_argument("--alias", default="champion", help="the alias to move")
    promote.add_argument("--from-alias", default="candidate", help="the alias of the candidate version")
    add_tracking_args(promote)
    promote.set_defaults(func=cmd_promote)

    models = sub.add_parser("models", help="registered models")
    models_sub = models.add_subparsers(dest="action", required=True)
    listing = models_sub.add_parser("list", help="models, versions, aliases and key metrics")
    add_tracking_args(listing)
    listing.set_defaults(func=cmd_list)
