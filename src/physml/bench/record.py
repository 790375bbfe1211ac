"""One benchmark's result: what it measured, printed as a table and logged as one MLflow run.

A benchmark script builds a `BenchResult` (settings as params, figures as metrics, a table of rows,
targets with pass/fail, notes) inside `run_benchmark`, which times it, samples the GPU if there is
one, prints it, logs it to the `benchmarks` experiment (params + metrics + machine tags + the table
as `benchmark.md`) and writes it as JSON for the suite runner.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from physml.bench import machine as machine_info
from physml.display import cell, markdown_table, text_table

EXPERIMENT = "benchmarks"


@dataclass
class Target:
    label: str  # e.g. "pipeline / CNN training step"
    value: float
    goal: str  # e.g. ">= 3x"
    passed: bool | None  # None: informational (no target)


@dataclass
class BenchResult:
    name: str
    title: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    headline: str = ""  # one line for the suite's summary table
    seconds: float = 0.0
    machine: dict[str, str] = field(default_factory=dict)
    run_id: str | None = None

    def add_row(self, *cells: Any) -> None:
        self.rows.append(list(cells))

    def check(self, label: str, value: float, goal: str, passed: bool | None) -> None:
        self.targets.append(Target(label, float(value), goal, passed))

    @property
    def passed(self) -> bool | None:
        verdicts = [t.passed for t in self.targets if t.passed is not None]
        return all(verdicts) if verdicts else None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BenchResult:
        data = dict(data)
        data["targets"] = [Target(**t) for t in data.get("targets", [])]
        return cls(**data)


def verdict(passed: bool | None) -> str:
    return {True: "PASS", False: "MISS", None: "info"}[passed]


def render(result: BenchResult, markdown: bool = False) -> str:
    table = markdown_table if markdown else text_table
    parts = [f"## {result.name}: {result.title}" if markdown else f"=== {result.name}: {result.title} ==="]
    parts.append(f"machine: {machine_info.one_line(result.machine)}")
    if result.rows:
        parts.append(table(result.columns, result.rows))
    if result.targets:
        parts.append(
            table(
                ["target", "measured", "goal", "verdict"],
                [[t.label, t.value, t.goal, verdict(t.passed)] for t in result.targets],
            )
        )
    parts += [f"- {note}" for note in result.notes]
    parts.append(f"({result.seconds:.0f} s)")
    return "\n\n".join(parts) if markdown else "\n".join(parts)


def log_result(result: BenchResult, tracking_uri: str, parent_run_id: str | None = None) -> str:
    """One MLflow run in the `benchmarks` experiment (nested under the suite's run when given)."""
    import mlflow

    from physml.tracking.runs import standard_tags

    mlflow.set_tracking_uri(tracking_uri)
    experiment_id = mlflow.set_experiment(EXPERIMENT).experiment_id
    tags = {
        **standard_tags("bench", result.name),
        **result.machine,
        "bench.name": result.name,
        "bench.verdict": verdict(result.passed),
    }
    for target in result.targets:
        tags[f"target.{target.label}"] = f"{cell(target.value)} (goal {target.goal}): {verdict(target.passed)}"
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=result.name, tags=tags, parent_run_id=parent_run_id
    ) as run:
        params = {key: str(value)[:6000] for key, value in {**result.params, **result.machine}.items()}
        mlflow.log_params(params)
        metrics = {
            key: float(value)
            for key, value in result.metrics.items()
            if value is not None and math.isfinite(float(value))
        }
        metrics["bench_seconds"] = result.seconds
        mlflow.log_metrics(metrics)
        mlflow.log_text(render(result, markdown=True) + "\n", "benchmark.md")
        mlflow.log_dict(result.to_json(), "benchmark.json")
        return run.info.run_id


def common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="data root holding each task's folder (default: $PHYSML_DATA_DIR)")
    parser.add_argument(
        "--quick", action="store_true", help="smallest settings (seconds): a smoke run, not a measurement"
    )
    parser.add_argument(
        "--tracking-uri", help="MLflow server for the result (default: $MLFLOW_TRACKING_URI or the embedded server)"
    )
    parser.add_argument("--no-log", action="store_true", help="print only; log nothing to MLflow")
    parser.add_argument("--json-out", help="also write the result as JSON here (the suite runner reads it)")
    parser.add_argument("--parent-run-id", help="log as a nested run of this run (the suite's)")


def task_dir(args: argparse.Namespace, folder: str) -> Path:
    from physml.data.paths import data_root

    return Path(args.data_dir).expanduser() / folder if args.data_dir else data_root() / folder


def run_benchmark(
    name: str,
    description: str,
    measure: Callable[[argparse.Namespace, BenchResult], None],
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    argv: list[str] | None = None,
) -> BenchResult:
    """The `main` of every script in benchmarks/: parse, measure (timed, GPU sampled), print, log, write JSON."""
    parser = argparse.ArgumentParser(prog=f"benchmarks/{name}.py", description=description)
    common_arguments(parser)
    if add_arguments:
        add_arguments(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault("PHYSML_PROGRESS", "0")
    tracking_uri = None
    if not args.no_log:  # resolve before measuring: an unreachable server fails now, not after minutes
        from physml.tracking.server import resolve_tracking_uri

        tracking_uri = resolve_tracking_uri(args.tracking_uri)
    args.resolved_tracking_uri = tracking_uri
    result = BenchResult(name=name, title=description, machine=machine_info.describe())
    result.params.update({"quick": args.quick, "started_at": machine_info.wall_clock()})
    started = time.perf_counter()
    with machine_info.GpuSampler() as gpu:
        measure(args, result)
    result.seconds = time.perf_counter() - started
    result.metrics.update(gpu.summary())
    if result.machine.get("machine.gpu") == "absent":
        result.notes.append("no GPU on this machine (nvidia-smi absent or lists none): CPU figures only")
    print("\n" + render(result), flush=True)
    if tracking_uri:
        result.run_id = log_result(result, tracking_uri, args.parent_run_id)
        print(f"logged as MLflow run {result.run_id} in experiment '{EXPERIMENT}' at {tracking_uri}", flush=True)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result.to_json(), indent=1, default=str))
    sys.stdout.flush()
    return result
