"""Ray Tune scaling: trials/hour of the same supercon grid with 1 worker vs 2 workers (concurrent
trials), both measured in this one run against a throw-away embedded MLflow server.

    python benchmarks/tune_scaling.py [--data-dir ../shared/data/supercon] [--epochs 3] [--units 16,32,64,128]
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
import time
from pathlib import Path

import yaml

from physml.tracking import server
from physml.tuning.search import SearchOptions, run_search


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--units", default="16,32,64,128")
    args = parser.parse_args()
    units = [int(u) for u in args.units.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "search.yaml"
        spec.write_text(yaml.safe_dump({
            "model": "dnn", "metric": "val_rmse", "mode": "min",
            "grid": {"fixed": {"dnn.epochs": args.epochs, "dnn.batch_size": 256},
                     "space": {"dnn.units": {"grid": units}, "dnn.learning_rate": {"grid": [1e-3, 3e-3]}}},
        }))  # fmt: skip
        info = server.start(home=Path(tmp) / "mlflow", port=free_port())
        os.environ["PHYSML_PROGRESS"] = "0"
        rows = []
        try:
            for workers in (1, 2):
                options = SearchOptions(task="supercon", kind="grid", max_concurrent=workers, retrain_best=False,
                                        data_dir=args.data_dir, spec_path=str(spec), storage=str(Path(tmp) / "ray"),
                                        name=f"scaling-{workers}", overrides={"experiment": "benchmark-tune-scaling"})  # fmt: skip
                started = time.perf_counter()
                outcome = run_search(options, info.url)
                seconds = time.perf_counter() - started
                rows.append((workers, len(outcome.results), seconds, len(outcome.results) / seconds * 3600))
        finally:
            server.stop(home=Path(tmp) / "mlflow")
    print(f"\n{os.cpu_count()} CPUs; grid of {len(units) * 2} trials, {args.epochs} epochs each (supercon dense net)")
    print(f"{'workers':>7} {'trials':>6} {'seconds':>8} {'trials/hour':>12}")
    for workers, trials, seconds, rate in rows:
        print(f"{workers:>7} {trials:>6} {seconds:>8.1f} {rate:>12.0f}")
    print(f"\n2 workers / 1 worker = {rows[1][3] / rows[0][3]:.2f}x trials/hour")


if __name__ == "__main__":
    main()
