"""`physml bench`: run the benchmarks in benchmarks/, print a summary, log each as an MLflow run."""

from __future__ import annotations

import argparse


def cmd_bench(args: argparse.Namespace) -> int:
    from physml.bench.runner import run_suite

    tracking_uri = None
    if not args.no_log:
        from physml.tracking.server import resolve_tracking_uri

        tracking_uri = resolve_tracking_uri(args.tracking_uri, port=args.port)
    return run_suite(
        args.only,
        args.quick,
        args.data_dir,
        tracking_uri,
        budget_s=args.budget_minutes * 60,
        log_dir=args.log_dir,
        markdown_out=args.markdown_out,
    )


def add_commands(sub) -> None:
    from physml.cli.common import add_tracking_args

    bench = sub.add_parser(
        "bench", help="run the benchmarks (input pipeline, training step, tuning, tracking, end to end)"
    )
    bench.add_argument(
        "--only", nargs="+", metavar="NAME", help="run only these (the BENCHMARK names of benchmarks/*.py)"
    )
    bench.add_argument(
        "--quick", action="store_true", help="smallest settings (a smoke run of the suite, not a measurement)"
    )
    bench.add_argument("--data-dir", help="data root holding each task's folder (default: $PHYSML_DATA_DIR)")
    bench.add_argument("--budget-minutes", type=float, default=15, help="time budget of the whole suite (default 15)")
    bench.add_argument(
        "--log-dir", help="folder for each benchmark's log and JSON result (default: a new temporary folder)"
    )
    bench.add_argument("--markdown-out", help="also write the summary and every table as Markdown here")
    bench.add_argument("--no-log", action="store_true", help="print only; log nothing to MLflow")
    add_tracking_args(bench)
    bench.set_defaults(func=cmd_bench)
