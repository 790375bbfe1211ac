"""`physml server ...` and `physml data ...`."""

from __future__ import annotations

import argparse


def cmd_server(args: argparse.Namespace) -> int:
    from physml.tracking import server

    if args.action == "start":
        info = server.start(home=args.home, port=args.port, host=args.host)
        print(f"MLflow server running at {info.url} (pid {info.pid}, store {info.home})")
        print(f"  export MLFLOW_TRACKING_URI={info.url}")
    elif args.action == "stop":
        info = server.stop(home=args.home)
        print(f"stopped the MLflow server at {info.url} (pid {info.pid})" if info else "no server was running")
    else:
        info = server.status(home=args.home)
        if info is None:
            print("no embedded MLflow server is running (start one with `physml server start`)")
            return 1
        print(f"MLflow server running at {info.url} (pid {info.pid}, store {info.home})")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from pathlib import Path

    from physml.data.paths import cache_root

    folder = {"supercon": "supercon", "galaxy": "galaxy_zoo"}[args.task]
    dest = Path(args.data_dir) if args.data_dir else cache_root() / folder
    if args.action == "download" and args.task == "galaxy":
        from physml.data.kaggle import download_galaxy_zoo

        download_galaxy_zoo(dest)
        print(f"galaxy data in {dest}")
    elif args.action == "download":
        from physml.data.download import UCI_SUPERCON, download_archive

        download_archive(UCI_SUPERCON, dest, url=args.url, sha256=args.sha256)
        print(f"supercon data in {dest}")
    if args.task == "galaxy":
        from physml.data.galaxy import load_galaxy_zoo

        catalogue = load_galaxy_zoo(args.data_dir if args.action == "check" else dest)
        print(f"{catalogue.labels_path}: {len(catalogue.votes)} galaxies with images, decision tree consistent: OK")
    else:
        from physml.data.supercon import load_supercon

        data = load_supercon(args.data_dir if args.action == "check" else dest)
        groups = len(set(data.composition_groups()))
        print(f"{data.train_path}: {len(data.tc)} materials, {data.features.shape[1]} features, "
              f"{groups} distinct compositions, Tc {data.tc.min():.3g}-{data.tc.max():.3g} K: OK")
    return 0


def add_commands(sub) -> None:
    server = sub.add_parser("server", help="start, stop or check the embedded MLflow tracking server")
    server.add_argument("action", choices=["start", "stop", "status"])
    server.add_argument("--port", type=int, default=5000)
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--home", help="store directory (default: ./.physml or $PHYSML_HOME)")
    server.set_defaults(func=cmd_server)

    data = sub.add_parser("data", help="download or check a task's data")
    data.add_argument("action", choices=["download", "check"])
    data.add_argument("task", choices=["supercon", "galaxy"])
    data.add_argument("--data-dir", help="the task's folder (default: $PHYSML_DATA_DIR/<task> or the cache)")
    data.add_argument("--url", help="download from this URL instead of the public source")
    data.add_argument("--sha256", help="expected SHA-256 of the archive, overriding the pinned one")
    data.set_defaults(func=cmd_data)
