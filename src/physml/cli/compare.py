"""`physml compare EXPERIMENT [--metric test_r2] [--top 10]`: the best runs side by side."""

from __future__ import annotations

import argparse

from physml.cli.common import add_tracking_args, at_least


def cmd_compare(args: argparse.Namespace) -> int:
    import mlflow
    from mlflow import MlflowClient

    from physml.display import text_table
    from physml.judging.compare import (
        MAX_RUNS,
        anchor_table,
        log_comparison,
        log_seed_comparison,
        over_seeds,
        seed_table,
        select,
    )
    from physml.tracking.server import resolve_tracking_uri
    from physml.tracking.ui_links import ui_link

    uri = resolve_tracking_uri(args.tracking_uri, autostart=False)
    mlflow.set_tracking_uri(uri)
    params = [p.strip() for p in args.params.split(",") if p.strip()] if args.params else None
    if args.over:  # every run: groups of seeds, not the top runs
        comparison = select(MlflowClient(uri), args.experiment, args.metric, MAX_RUNS, None, args.mode)
        groups = over_seeds(comparison, params, args.over)
        header, rows = seed_table(comparison, groups[: args.top])
        print(text_table(header, rows))
        anchors = anchor_table(comparison, groups) if args.anchors else None
        if anchors:
            print("\npublished figures beside physml's best group on the same model and split:")
            print(text_table(*anchors))
        if args.no_log:
            return 0
        run_id = log_seed_comparison(comparison, header, rows, anchors)
    else:
        comparison = select(MlflowClient(uri), args.experiment, args.metric, args.top, params, args.mode)
        print(comparison.text())
        if args.no_log:
            return 0
        run_id = log_comparison(comparison)
    experiment_id = mlflow.get_experiment_by_name(args.experiment).experiment_id
    print(f"\ncomparison run {run_id}: table.md and comparison.png under comparison/")
    print(f"MLflow UI: {ui_link(uri, experiment_id, run_id)}")
    return 0


def add_commands(sub) -> None:
    compare = sub.add_parser(
        "compare",
        help="table and figure of an experiment's best runs, logged to a comparison run",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    compare.add_argument("experiment", help="experiment name")
    compare.add_argument("--metric", help="rank by this metric (default: the runs' task's first headline metric)")
    compare.add_argument("--mode", choices=["min", "max"], help="lower or higher is better (default: the task's)")
    compare.add_argument("--top", type=at_least(1), default=10, help="how many runs")
    compare.add_argument("--params", help="comma-separated key params (default: those that differ between the runs)")
    compare.add_argument(
        "--over",
        metavar="PARAM",
        help="group the runs that differ only by PARAM (seed) and what it decides; print each group's "
        "mean ± sd and the 95%% interval of the mean (groups by --params, else by the params that vary)",
    )
    compare.add_argument(
        "--anchors",
        action="store_true",
        help="with --over: also the published figures of the runs' task (projects/<task>/anchors.yaml), each "
        "beside physml's best group on the same model and split",
    )
    compare.add_argument("--no-log", action="store_true", help="print the table only; log no comparison run")
    add_tracking_args(compare)
    compare.set_defaults(func=cmd_compare)
