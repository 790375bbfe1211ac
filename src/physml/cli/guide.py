"""`physml next-steps`: what to run after the demo, each line runnable as printed from this folder.

This is the one list: `make demo` prints it, and the README's first screen shows the same lines
(a test runs each of them from a fresh shell).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def data_root_as_typed() -> str:
    """The data root as a fresh shell here can use it: relative when it lies near this folder."""
    from physml.data.paths import data_root

    root = os.path.abspath(data_root())  # not resolve(): a symlinked ../shared stays ../shared
    relative = os.path.relpath(root, os.path.abspath(Path.cwd()))
    return relative if not relative.startswith("../../..") else str(root)


def next_steps() -> list[tuple[str, str]]:
    from physml.console import physml_command
    from physml.tasks import registered

    physml = physml_command()
    steps = [step for task in registered().values() for step in task.next_steps(physml, data_root_as_typed())]
    steps.append(("stop the tracking server (the UI stops with it)", f"{physml} server stop"))
    return steps


def cmd_next_steps(args: argparse.Namespace) -> int:
    print("Next steps (each runs as printed, from this folder):")
    for what, command in next_steps():
        print(f"  # {what}\n  {command}")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    """Replay the spool: what runs could not send while their tracking server was down; then end
    the runs of this host whose process is gone (tracking/sweep.py) on the tracking server in use."""
    from physml.tracking import spool

    sent, waiting = spool.replay_all()
    for line in sent:
        print(line)
    for line in waiting:
        print(f"still waiting: {line}")
    if not sent and not waiting:
        print(f"nothing to send: the spool ({spool.spool_root()}) is empty")
    swept = sweep_server()
    for line in swept:
        print(line)
    return 1 if waiting else 0


def sweep_server() -> list[str]:
    """`sweep` on $MLFLOW_TRACKING_URI, else on this home's running embedded server (none: nothing)."""
    from mlflow import MlflowClient

    from physml.tracking.server import checked_uri, is_healthy, status
    from physml.tracking.sweep import sweep

    uri = os.environ.get("MLFLOW_TRACKING_URI")
    running = status() if not uri else None
    uri = checked_uri(uri, "MLFLOW_TRACKING_URI") if uri else running.url if running else None
    if not uri or (uri.startswith("http") and not is_healthy(uri)):
        return []  # no server to look at now; the next command that finds it sweeps
    return sweep(MlflowClient(uri))


def add_commands(sub) -> None:
    guide = sub.add_parser("next-steps", help="what to run after the demo (compare, predict, tune, promote, stop)")
    guide.set_defaults(func=cmd_next_steps)
    sync = sub.add_parser("sync", help="send what runs kept in the spool while their tracking server was down")
    sync.set_defaults(func=cmd_sync)
