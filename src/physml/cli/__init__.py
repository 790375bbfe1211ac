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

    lines = [task.examples[0] for task in registered().values() if task.examples]
    return "examples:\n" + "\n".join(f"  {line}" for line in lines) + "\n\nafter a run: physml next-steps"


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
        end_active_runs(str(exc))
        print(f"physml: error: {exc}", file=sys.stderr)
        return 2
    except BaseException as exc:
        message = tracking_failure(exc) if isinstance(exc, Exception) else None
        end_active_runs(message or f"{type(exc).__name__}: {exc}")
        if message is not None:  # the tracking server refused or vanished: one line, not a traceback
            print(f"physml: error: {message}", file=sys.stderr)
            return 2
        if isinstance(exc, Exception) and not args.verbose:  # unexpected: one line; -v shows the traceback
            first = str(exc).strip().splitlines()[0][:500] if str(exc).strip() else ""
            print(f"physml: error: {type(exc).__name__}: {first} (run with -v for the traceback)", file=sys.stderr)
            return 1
        raise
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def end_active_runs(reason: str) -> None:
    """No run is left RUNNING by a command that failed: any still active ends FAILED with the reason."""
    mlflow = sys.modules.get("mlflow")
    if mlflow is None:
        return
    for _ in range(10):  # nested runs: innermost first
        active = mlflow.active_run()
        if active is None:
            return
        try:
            mlflow.set_tag("physml.error", reason[:1000])
        except Exception:  # the server may be what failed; ending the run still matters
            pass
        try:
            mlflow.end_run(status="FAILED")
        except Exception:
            # an unreachable server could not record the end: forget the run in this process
            # (private MLflow state; mlflow.end_run has no local-only mode)
            stack = mlflow.tracking.fluent._active_run_stack.get()
            if active in stack:
                stack.remove(active)


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
