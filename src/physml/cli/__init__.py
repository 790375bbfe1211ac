"""The physml command line: parse, load config, call a task. Nothing here trains or logs by itself.

One module per command family (infra: server + data, team, supercon, galaxy, tune, models, compare, bench); this module wires them up.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

from physml.cli import bench, compare, galaxy, infra, models, supercon, team, tune
from physml.errors import PhysmlError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="physml", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    infra.add_commands(sub)
    team.add_commands(sub)
    supercon.add_commands(sub)
    galaxy.add_commands(sub)
    tune.add_commands(sub)
    models.add_commands(sub)
    compare.add_commands(sub)
    bench.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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


def tracking_failure(exc: Exception) -> str | None:
    """A one-line explanation when `exc` is MLflow failing to reach or be let into its server."""
    from mlflow.exceptions import MlflowException, RestException

    if not isinstance(exc, MlflowException):
        return None
    text = str(exc)
    uri = os.environ.get("MLFLOW_TRACKING_URI", "the tracking server")
    # by the error code, never by "401" in the text: a URL's port (e.g. :40151) can hold those digits
    if exc.error_code == "UNAUTHENTICATED" or re.search(r"error code 401\b", text):
        return (f"{uri} refused the request (401 unauthorized): set MLFLOW_TRACKING_USERNAME and "
                "MLFLOW_TRACKING_PASSWORD, or NETRC to a netrc file with your credentials")
    if isinstance(exc, RestException):
        return None
    if "Max retries exceeded" in text or "Connection refused" in text or "Failed to establish" in text:
        return f"cannot reach the tracking server {uri} (gave up after MLflow's retries): {text.splitlines()[0][:300]}"
    return None
