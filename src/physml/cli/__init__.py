"""The physml command line: parse, load config, call a task. Nothing here trains or logs by itself.

One module per command family (infra: server + data, team, train: every registered task, tune,
models, compare, bench); this module wires them up. It never names a task: tasks come from the
registry (`physml.tasks`).
"""

from __future__ import annotations

import argparse
import os
import re
import sys

from physml.cli import bench, compare, guide, infra, models, team, train, tune
from physml.errors import PhysmlError

DESCRIPTION = """physml: tracked, tunable machine-learning experiments for physics and astronomy.
Every run logs its parameters, metrics, plots, data digest and model to an MLflow server; Ray Tune
searches each task's hyperparameters; the registry's `champion` alias moves only through a metric gate."""
EXPERIMENT_VARIABLES = ("MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID")


def examples() -> str:
    from physml.tasks import registered

    lines = [line for task in registered().values() for line in task.examples[:2]]
    lines += ["physml compare EXPERIMENT --metric METRIC", "physml server start"]
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def build_parser() -> argparse.ArgumentParser:
    from physml import __version__

    parser = argparse.ArgumentParser(
        prog="physml",
        description=DESCRIPTION,
        epilog=examples(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"physml {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show libraries' start-up and progress logs")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train.add_commands(sub)
    tune.add_commands(sub)
    compare.add_commands(sub)
    models.add_commands(sub)
    infra.add_commands(sub)
    team.add_commands(sub)
    bench.add_commands(sub)
    guide.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from physml.console import quiet_libraries

    args = build_parser().parse_args(argv)
    quiet_libraries(args.verbose)
    # MLflow's set_experiment writes MLFLOW_EXPERIMENT_ID into this process's environment; put the
    # user's values back afterwards, so an in-process caller's next command reads what the user set.
    saved = {name: os.environ.get(name) for name in EXPERIMENT_VARIABLES}
    try:
        return args.func(args)
    except PhysmlError as exc:
        print(f"physml: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the tracking server refused or vanished: one line, not a traceback
        message = tracking_failure(exc)
        if message is None:
            raise
        print(f"physml: error: {message}", file=sys.stderr)
        return 2
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def tracking_failure(exc: Exception) -> str | None:
    """A one-line explanation when `exc` is MLflow failing to reach or be let into its server."""
    from mlflow.exceptions import MlflowException, RestException

    if not isinstance(exc, MlflowException):
        return None
    text = str(exc)
    uri = os.environ.get("MLFLOW_TRACKING_URI", "the tracking server")
    # by the error code, never by "401" in the text: a URL's port (e.g. :40151) can hold those digits
    if exc.error_code == "UNAUTHENTICATED" or re.search(r"error code 401\b", text):
        return (
            f"{uri} refused the request (401 unauthorized): set MLFLOW_TRACKING_USERNAME and "
            "MLFLOW_TRACKING_PASSWORD, or NETRC to a netrc file with your credentials"
        )
    if isinstance(exc, RestException):
        return None
    if "Max retries exceeded" in text or "Connection refused" in text or "Failed to establish" in text:
        return f"cannot reach the tracking server {uri} (gave up after MLflow's retries): {text.splitlines()[0][:300]}"
    return None
