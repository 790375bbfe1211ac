"""End to end: the README demo from a warm install (the venv exists), wall time and peak memory.

Runs exactly the demo's commands as subprocesses, with PHYSML_HOME and PHYSML_CACHE_DIR in a
temporary folder (so ./.physml and the user's image cache are untouched, and the JPEGs are decoded
as on a first run):

    physml server start --port <free port>
    physml supercon train --model all --preset demo
    physml galaxy train --preset demo
    physml server stop

Wall time per command and in total; peak resident memory (max RSS) of each command's process (from
wait4) and of the MLflow server's processes (VmHWM, read before it stops). --quick runs `--preset
quick` instead (a smoke run, not the demo).

    python benchmarks/end_to_end.py [--data-dir ../shared/data] [--quick]
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from physml.bench.child import wait_measured
from physml.bench.record import BenchResult, run_benchmark, task_dir
from physml.tracking.server import free_port

# Read by `physml bench` (physml/bench/runner.py) without importing this script:
BENCHMARK = "end_to_end"
BUDGET_S = 300  # what it should take on 2 CPU cores (full settings); the hard limit is twice this
SUMMARY = "the README demo: wall time and peak memory"


def run_measured(command: list[str], env: dict[str, str], cwd: Path, log: Path, timeout: float) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB of the process) of one command; its output goes to `log`."""
    started = time.perf_counter()
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(command)}\n".encode())
        out.flush()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        try:
            usage = wait_measured(process, timeout, " ".join(command))
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; log {log}:\n{log.read_text(errors='replace')[-3000:]}") from None
    return time.perf_counter() - started, usage.ru_maxrss / 1024  # Linux: KiB


def process_tree_peak_mib(root_pid: int) -> float:
    """Sum of VmHWM (peak RSS) over a process and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0.0, [root_pid]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


def stop_on_sigterm() -> None:
    """SIGTERM (the suite's time limit) becomes an exception, so the `finally` below stops the server."""

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)


def measure(args, result: BenchResult) -> None:
    stop_on_sigterm()
    preset = "quick" if args.quick else "demo"
    physml = str(Path(sys.executable).parent / "physml")
    data_root = task_dir(args, "supercon").parent
    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="physml-e2e-") as tmp:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        env.update(
            PHYSML_HOME=str(Path(tmp) / "home"),
            PHYSML_CACHE_DIR=str(Path(tmp) / "cache"),
            PHYSML_DATA_DIR=str(data_root),
            MLFLOW_TRACKING_URI=f"http://127.0.0.1:{port}",
            PHYSML_PROGRESS="0",
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        log = Path(tmp) / "demo.log"
        steps = [
            ("physml server start", [physml, "server", "start", "--port", str(port)]),
            (
                f"physml supercon train --model all --preset {preset}",
                [physml, "supercon", "train", "--model", "all", "--preset", preset],
            ),
            (f"physml galaxy train --preset {preset}", [physml, "galaxy", "train", "--preset", preset]),
        ]
        rows, server_peak = [], 0.0
        started = time.perf_counter()
        try:
            for label, command in steps:
                seconds, peak = run_measured(command, env, repo, log, timeout=600)
                rows.append((label, seconds, peak))
                print(f"{label}: {seconds:.1f} s, peak RSS {peak:.0f} MiB", flush=True)
            state = json.loads((Path(tmp) / "home" / "server.json").read_text())
            server_peak = process_tree_peak_mib(state["pid"])
        finally:
            stop_seconds, stop_peak = run_measured([physml, "server", "stop"], env, repo, log, timeout=120)
        rows.append(("physml server stop", stop_seconds, stop_peak))
        total = time.perf_counter() - started
        output = log.read_text(errors="replace")
    result.params.update(
        {
            "preset": preset,
            "image_cache": "cold (fresh PHYSML_CACHE_DIR)",
            "install": "warm (existing venv)",
            "commands": " && ".join(label for label, *_ in rows),
        }
    )
    result.columns = ["command", "wall s", "peak RSS MiB"]
    for label, seconds, peak in rows:
        result.add_row(label, seconds, peak)
    result.add_row("MLflow server (all its processes, peak)", float("nan"), server_peak)
    peak_client = max(peak for _, _, peak in rows)
    result.add_row("total (commands in sequence)", total, peak_client + server_peak)
    keys = ["server_start", "supercon_train", "galaxy_train", "server_stop"]
    for key, (_, seconds, peak) in zip(keys, rows):
        result.metrics.update({f"{key}_seconds": seconds, f"{key}_peak_rss_mib": peak})
    result.metrics.update(
        {"total_seconds": total, "server_peak_rss_mib": server_peak, "peak_rss_mib": peak_client + server_peak}
    )
    result.check("README demo wall time", total / 60, "minutes (no target)", None)
    result.check("peak memory (largest command + server)", (peak_client + server_peak) / 1024, "GiB (no target)", None)
    result.headline = (
        f"demo ({preset}) {total:.0f} s wall: supercon {rows[1][1]:.0f} s, galaxy {rows[2][1]:.0f} s; "
        f"peak RSS {peak_client:,.0f} MiB + server {server_peak:,.0f} MiB"
    )
    lines = [
        line.strip() for line in output.splitlines() if re.match(r"\s*(linear|gbm|dnn)\s+\d|\s*test accuracy", line)
    ]
    result.notes += [f"demo output: {line}" for line in lines[:6]]
    result.notes.append(
        "peak RSS per command is the process's own maximum (wait4 ru_maxrss); the total adds the server's "
        "peak, as both are alive at once (an upper bound: their peaks need not coincide)"
    )


if __name__ == "__main__":
    run_benchmark(BENCHMARK, "the README demo from a warm install: wall time and peak memory", measure)
