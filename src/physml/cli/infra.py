"""`physml server ...` and `physml data ...`."""

from __future__ import annotations

import argparse


def cmd_server(args: argparse.Namespace) -> int:
    from physml.console import physml_command
    from physml.tracking import server

    if args.action == "start":
        host = args.host or "127.0.0.1"
        check_host(host, args.allow_remote)
        port = args.port or server.DEFAULT_PORT
        # a port or host asked for that the running server does not have: an error, not that server
        info = server.start(home=args.home, port=port, host=host, exact=args.port is not None or args.host is not None)
        print(f"MLflow server running at {info.url} (pid {info.pid}, store {info.home})")
        print(f"  export MLFLOW_TRACKING_URI={info.url}")
    elif args.action == "stop":
        info = server.stop(home=args.home)
        print(f"stopped the MLflow server at {info.url} (pid {info.pid})" if info else "no server was running")
    else:
        info = server.status(home=args.home)
        if info is None:
            print(f"no embedded MLflow server is running (start one with `{physml_command()} server start`)")
            return 1
        print(f"MLflow server running at {info.url} (pid {info.pid}, store {info.home})")
    return 0


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_host(host: str, allow_remote: bool) -> None:
    """The embedded server has no login: bind it to this machine only, unless asked explicitly."""
    import sys

    from physml.errors import PhysmlError

    if host in LOOPBACK or host.startswith("127."):
        return
    risk = (
        f"--host {host} serves the embedded tracking server to every machine that can reach this one, "
        "with no login: anyone there can read, change and delete runs and models"
    )
    if not allow_remote:
        raise PhysmlError(
            f"{risk}. Pass --allow-remote to do it anyway, or share runs through the team server "
            "with logins (`physml team up`, infra/README.md)"
        )
    print(f"physml: warning: {risk}; the team server (`physml team up`) has logins", file=sys.stderr)


def cmd_data(args: argparse.Namespace) -> int:
    from pathlib import Path

    from physml.data.paths import cache_root
    from physml.tasks import get_task

    task = get_task(args.task)
    if args.action == "download":
        dest = Path(args.data_dir) if args.data_dir else cache_root() / task.data_folder
        task.download(dest, url=args.url, sha256=args.sha256)
        print(f"{task.name} data in {dest}")
        print(task.check_data(dest))
    else:
        print(task.check_data(args.data_dir))
    return 0


def add_commands(sub) -> None:
    from physml.tasks import task_names

    server = sub.add_parser(
        "server",
        help="start, stop or check the embedded MLflow tracking server",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    server.add_argument("action", choices=["start", "stop", "status"], help="what to do")
    server.add_argument("--port", type=int, help="port to listen on (default: 5000)")
    server.add_argument("--host", help="interface to bind (default: 127.0.0.1, loopback: this machine only)")
    server.add_argument(
        "--allow-remote", action="store_true", help="allow a --host other machines can reach (the server has no login)"
    )
    server.add_argument("--home", help="store directory (default: ./.physml or $PHYSML_HOME)")
    server.set_defaults(func=cmd_server)

    data = sub.add_parser("data", help="download or check a task's data")
    data.add_argument("action", choices=["download", "check"], help="what to do")
    data.add_argument("task", choices=task_names(), help="a registered task")
    data.add_argument("--data-dir", help="the task's folder (default: $PHYSML_DATA_DIR/<task> or the cache)")
    data.add_argument("--url", help="download from this URL instead of the public source")
    data.add_argument("--sha256", help="expected SHA-256 of the archive, overriding the pinned one")
    data.set_defaults(func=cmd_data)
