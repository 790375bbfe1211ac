"""`physml team ...`: the team tracking server (PostgreSQL + S3 + basic auth).

physml team up       # local stack on this machine: database, S3-compatible server, MLflow server with auth
physml team env      # the exports that point physml and mlflow at it (no password: it is in a netrc file)
physml team status | down
physml team serve    # only the server, against the services named in the environment (AWS, MinIO, ...)
"""

from __future__ import annotations

import argparse


def _exports(url: str, netrc_path) -> str:
    return f"export MLFLOW_TRACKING_URI={url}\nexport NETRC={netrc_path}"


def cmd_team(args: argparse.Namespace) -> int:
    from physml.console import physml_command
    from physml.tracking import team

    if args.action == "up":
        info, netrc_path = team.local_stack_up(home=args.home, port=args.port, s3_port=args.s3_port, host=args.host)
        status = team.local_stack_status(args.home)
        s3 = status[team.S3_NAME]
        print(f"team MLflow server (PostgreSQL backend, S3 artifacts, basic auth) at {info.url} (pid {info.pid})")
        if s3:
            print(f"S3-compatible store (moto server, in memory) at {s3.url} (pid {s3.pid})")
        print(f"admin credentials in {netrc_path} (netrc format, mode 0600); point clients at the server with:")
        print(_exports(info.url, netrc_path))
    elif args.action == "env":
        status = team.local_stack_status(args.home)[team.SERVER_NAME]
        if status is None:
            print(f"# no team stack is running (start it with `{physml_command()} team up`)")
            return 1
        print(_exports(status.url, team.stack_home(args.home) / "netrc"))
    elif args.action == "down":
        stopped = team.local_stack_down(args.home)
        for info in stopped:
            print(f"stopped {info.url} (pid {info.pid})")
        if not stopped:
            print("no team stack was running")
    elif args.action == "status":
        status = team.local_stack_status(args.home)
        for name, info in status.items():
            print(f"{name}: {f'running at {info.url} (pid {info.pid})' if info else 'not running'}")
        return 0 if status[team.SERVER_NAME] else 1
    else:
        settings = team.TeamSettings.from_env()
        info = team.serve(settings, home=args.home, port=args.port, host=args.host, foreground=args.foreground)
        print(f"team MLflow server at {info.url} (pid {info.pid})")
    return 0


def add_commands(sub) -> None:
    from physml.tracking.team import DEFAULT_PORT, DEFAULT_S3_PORT

    team = sub.add_parser(
        "team",
        help="the team tracking server: PostgreSQL backend, S3 artifacts, basic auth",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    team.add_argument("action", choices=["up", "down", "status", "env", "serve"], help="what to do")
    team.add_argument("--port", type=int, default=DEFAULT_PORT, help="port of the team server")
    team.add_argument(
        "--s3-port", type=int, default=DEFAULT_S3_PORT, help="port of the local S3-compatible server (up)"
    )
    team.add_argument("--host", default="127.0.0.1", help="interface to bind")
    team.add_argument("--home", help="state folder (default: ./.physml/team or $PHYSML_HOME/team)")
    team.add_argument("--foreground", action="store_true", help="serve: run the server in this process (containers)")
    team.set_defaults(func=cmd_team)
