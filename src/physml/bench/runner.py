"""Run the benchmark scripts in benchmarks/ within a time budget and print one summary table.

Each script runs as its own process (its own TensorFlow and Ray, a clean slate, a hard time limit)
and logs its result as a nested run under one `suite` run in the `benchmarks` experiment; the
suite run holds the machine description and the summary table (`summary.md`).
"""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from physml.bench import machine as machine_info
from physml.bench.record import (
    EXPERIMENT,
    BenchResult,
    markdown_table,
    render,
    text_table,
    verdict,
)


@dataclass(frozen=True)
class Benchmark:
    name: str
    script: str
    budget_s: int  # what it should take on 2 CPU cores (full settings); the hard limit is twice this
    what: str


def benchmarks_dir() -> Path:
    """$PHYSML_BENCHMARKS_DIR, ./benchmarks, or the source tree's benchmarks/."""
    if env := os.environ.get("PHYSML_BENCHMARKS_DIR"):
        return Path(env)
    here = Path.cwd() / "benchmarks"
    if here.is_dir() and any(here.glob("*.py")):
        return here
    return Path(__file__).resolve().parents[3] / "benchmarks"


def declared(path: Path) -> Benchmark | None:
    """The benchmark a script declares (module-level BENCHMARK, BUDGET_S, SUMMARY), read without running it."""
    values = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in ("BENCHMARK", "BUDGET_S", "SUMMARY") and isinstance(node.value, ast.Constant):
                values[node.targets[0].id] = node.value.value
    if "BENCHMARK" not in values:
        return None
    return Benchmark(values["BENCHMARK"], path.name, int(values.get("BUDGET_S", 60)), values.get("SUMMARY", ""))


def discover(folder: Path | None = None) -> list[Benchmark]:
    """Every script in benchmarks/ that declares a benchmark, cheapest first (the sum of the budgets
    is what `make bench` may take on 2 cores)."""
    found = [b for path in sorted((folder or benchmarks_dir()).glob("*.py")) if (b := declared(path))]
    return sorted(found, key=lambda b: (b.budget_s, b.name))


@dataclass
class Outcome:
    benchmark: Benchmark
    result: BenchResult | None
    seconds: float
    error: str | None = None
    log: Path | None = None


def run_one(bench: Benchmark, args: list[str], timeout: float, log_dir: Path) -> Outcome:
    json_path, log_path = log_dir / f"{bench.name}.json", log_dir / f"{bench.name}.log"
    command = [sys.executable, str(benchmarks_dir() / bench.script), *args, "--json-out", str(json_path)]
    env = {
        **os.environ,
        "PHYSML_PROGRESS": "0",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled"),
    }
    env = {k: v for k, v in env.items() if k not in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME")}
    started = time.perf_counter()
    error = None
    with open(log_path, "wb") as log:
        # its own process group: on timeout the script and what it started (trainings, Ray) are stopped together
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            if process.wait(timeout=timeout) != 0:
                error = f"exited with code {process.returncode}"
        except subprocess.TimeoutExpired:
            error = f"stopped after its time limit of {timeout:.0f} s"
            stop_group(process)
        except BaseException:  # Ctrl-C: its own session does not get the terminal's SIGINT, so stop it here
            stop_group(process, grace=10)
            raise
    seconds = time.perf_counter() - started
    result = BenchResult.from_json(json.loads(json_path.read_text())) if json_path.exists() and error is None else None
    if result is None and error is None:
        error = "wrote no result"
    return Outcome(bench, result, seconds, error, log_path)


def stop_group(process: subprocess.Popen, grace: float = 30) -> None:
    """SIGTERM to the script's process group (the script cleans up, e.g. stops its MLflow server), then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def summary_rows(outcomes: list[Outcome]) -> list[list]:
    rows = []
    for outcome in outcomes:
        if outcome.result is None:
            rows.append([outcome.benchmark.name, "FAILED", outcome.seconds, outcome.error])
        else:
            rows.append(
                [outcome.benchmark.name, verdict(outcome.result.passed), outcome.seconds, outcome.result.headline]
            )
    return rows


def target_rows(outcomes: list[Outcome]) -> list[list]:
    return [
        [o.benchmark.name, t.label, t.value, t.goal, verdict(t.passed)]
        for o in outcomes
        if o.result
        for t in o.result.targets
    ]


SUMMARY_COLUMNS = ["benchmark", "verdict", "seconds", "headline"]
TARGET_COLUMNS = ["benchmark", "target", "measured", "goal", "verdict"]


def run_suite(
    only: list[str] | None,
    quick: bool,
    data_dir: str | None,
    tracking_uri: str | None,
    budget_s: float = 900,
    log_dir: str | None = None,
    markdown_out: str | None = None,
) -> int:
    """Run the chosen benchmarks in order; print each result and a summary. Exit code 1 if any failed."""
    chosen = choose(only)
    folder = Path(log_dir or tempfile.mkdtemp(prefix="physml-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    machine = machine_info.describe()
    print(
        f"physml bench: {', '.join(b.name for b in chosen)}{' (--quick: smoke settings, not measurements)' if quick else ''}"
    )
    print(f"machine: {machine_info.one_line(machine)}")
    print(f"budget {budget_s / 60:.0f} min; logs in {folder}", flush=True)

    client, parent_run_id = open_suite_run(tracking_uri, machine, quick, chosen) if tracking_uri else (None, None)
    common = [*(["--data-dir", data_dir] if data_dir else []), *(["--quick"] if quick else [])]
    common += ["--tracking-uri", tracking_uri, "--parent-run-id", parent_run_id] if tracking_uri else ["--no-log"]
    outcomes, total = run_benchmarks(chosen, common, budget_s, folder, client)

    print_summary(outcomes, total, machine)
    markdown = summary_markdown(outcomes, total, machine)
    if markdown_out:
        Path(markdown_out).write_text(markdown)
    failed = sum(o.result is None for o in outcomes)
    if tracking_uri:
        close_suite_run(client, parent_run_id, markdown, outcomes, total)
        print(f"\nlogged to {tracking_uri}: experiment '{EXPERIMENT}', suite run {parent_run_id}")
    if total > budget_s:
        print(f"warning: the suite took {total / 60:.1f} min, over its {budget_s / 60:.0f} min budget")
    return 1 if failed else 0


def choose(only: list[str] | None) -> list[Benchmark]:
    """The benchmarks named in `only` (all when None), cheapest first; an unknown name is an error."""
    benchmarks = discover()
    unknown = sorted(set(only or []) - {b.name for b in benchmarks})
    if unknown:
        from physml.errors import PhysmlError

        known = ", ".join(b.name for b in benchmarks)
        raise PhysmlError(f"no benchmark named {', '.join(unknown)} in {benchmarks_dir()}; there are: {known}")
    return [b for b in benchmarks if not only or b.name in only]


def open_suite_run(tracking_uri: str, machine: dict, quick: bool, chosen: list[Benchmark]):
    """The `suite` run in the benchmarks experiment, tagged with the machine: (its client, its run id)."""
    from mlflow import MlflowClient

    from physml.tracking.runs import standard_tags

    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(EXPERIMENT)
    tags = {**standard_tags("bench", "suite"), **machine, "bench.name": "suite"}
    parent_run_id = client.create_run(experiment_id, run_name="suite", tags=tags).info.run_id
    params = {**machine, "quick": quick, "only": ",".join(b.name for b in chosen)}
    client.log_batch(parent_run_id, params=[_param(k, v) for k, v in params.items()])
    return client, parent_run_id


def run_benchmarks(
    chosen: list[Benchmark], common: list[str], budget_s: float, folder: Path, client
) -> tuple[list[Outcome], float]:
    """Each benchmark in turn, limited to what is left of the suite's budget (at least its own budget,
    at most twice it), its result printed as it ends; with a client its log goes on its run. The
    outcomes and the seconds they took."""
    started = time.perf_counter()
    outcomes = []
    for bench in chosen:
        left = budget_s - (time.perf_counter() - started)
        timeout = min(2 * bench.budget_s, max(left, bench.budget_s))  # each gets at least its own budget
        print(f"\n--- {bench.name}: {bench.what} (budget {bench.budget_s} s, limit {timeout:.0f} s) ...", flush=True)
        outcome = run_one(bench, common, timeout, folder)
        outcomes.append(outcome)
        print_outcome(outcome)
        if client is not None and outcome.result is not None and outcome.result.run_id and outcome.log:
            client.log_artifact(outcome.result.run_id, str(outcome.log), "logs")
    return outcomes, time.perf_counter() - started


def print_outcome(outcome: Outcome) -> None:
    """A benchmark's result; for a failure, why and the end of its log."""
    if outcome.result is not None:
        print(render(outcome.result), flush=True)
        return
    tail = outcome.log.read_text(errors="replace")[-3000:] if outcome.log and outcome.log.exists() else ""
    print(
        f"{outcome.benchmark.name} FAILED ({outcome.error}) after {outcome.seconds:.0f} s; log {outcome.log}:\n{tail}",
        flush=True,
    )


def print_summary(outcomes: list[Outcome], total: float, machine: dict) -> None:
    targets = target_rows(outcomes)
    print(f"\n=== physml bench summary ({total / 60:.1f} min; {machine_info.one_line(machine)}) ===")
    print(text_table(SUMMARY_COLUMNS, summary_rows(outcomes)))
    if targets:
        print("\n" + text_table(TARGET_COLUMNS, targets))


def summary_markdown(outcomes: list[Outcome], total: float, machine: dict) -> str:
    """The summary and every result as markdown: the suite run's summary.md, --markdown-out."""
    parts = [
        f"# physml bench ({machine_info.wall_clock()}, {total / 60:.1f} min)",
        f"machine: {machine_info.one_line(machine)}",
        markdown_table(SUMMARY_COLUMNS, summary_rows(outcomes)),
        markdown_table(TARGET_COLUMNS, target_rows(outcomes)),
    ]
    return "\n\n".join(parts + [render(o.result, markdown=True) for o in outcomes if o.result]) + "\n"


def close_suite_run(client, parent_run_id: str, markdown: str, outcomes: list[Outcome], total: float) -> None:
    """The summary and the counts on the suite run, ended FAILED if any benchmark failed."""
    failed = sum(o.result is None for o in outcomes)
    client.log_text(parent_run_id, markdown, "summary.md")
    client.log_batch(
        parent_run_id,
        metrics=[
            _metric("total_seconds", total),
            _metric("n_failed", failed),
            _metric("n_missed", sum(o.result is not None and o.result.passed is False for o in outcomes)),
        ],
    )
    client.set_terminated(parent_run_id, "FAILED" if failed else "FINISHED")


def _param(key: str, value) -> object:
    from mlflow.entities import Param

    return Param(key, str(value)[:6000])


def _metric(key: str, value: float) -> object:
    from mlflow.entities import Metric

    return Metric(key, float(value), int(time.time() * 1000), 0)


__all__ = ["discover", "run_suite"]
