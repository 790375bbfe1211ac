"""`physml bench` for real: the smallest benchmark (supercon DNN throughput, --quick) through the CLI
against a real MLflow server, then what the server holds: a suite run and the benchmark's nested run
in the `benchmarks` experiment, with the machine description and positive throughput figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mlflow import MlflowClient

from physml.resources import usable_cpus
from tests.helpers.processes import subprocess_env


def test_bench_logs_a_measured_run_with_the_machine(mlflow_server, data_root, tmp_path):
    command = [
        str(Path(sys.executable).parent / "physml"),
        "bench",
        "--only",
        "supercon_dnn",
        "--quick",
        "--data-dir",
        str(data_root),
        "--tracking-uri",
        mlflow_server.url,
        "--log-dir",
        str(tmp_path),
    ]
    env = subprocess_env(mlflow_server.url)
    env.pop("PHYSML_BENCHMARKS_DIR", None)
    done = subprocess.run(command, check=False, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "physml bench summary" in done.stdout and "supercon_dnn" in done.stdout

    client = MlflowClient(mlflow_server.url)
    experiment = client.get_experiment_by_name("benchmarks")
    assert experiment is not None
    runs = client.search_runs(
        [experiment.experiment_id], "tags.`bench.name` = 'supercon_dnn'", order_by=["attributes.start_time DESC"]
    )
    assert runs, "no supercon_dnn run in the benchmarks experiment"
    run = runs[0]
    assert run.info.status == "FINISHED"
    suite = client.get_run(run.data.tags["mlflow.parentRunId"])
    assert suite.data.tags["bench.name"] == "suite" and suite.info.status == "FINISHED"

    # the machine: CPU count as this process sees it, a GPU entry (absent here unless nvidia-smi lists one), versions
    for tags_or_params in (run.data.tags, run.data.params):
        assert tags_or_params["machine.cpu_count"] == str(usable_cpus())
        assert tags_or_params["machine.gpu"]
        assert tags_or_params["machine.version.mlflow"]
        assert tags_or_params["machine.python"].startswith("3.")
        assert 1 < float(tags_or_params["machine.matmul_gflops"]) < 1e6  # the host's measured yardstick
    assert run.data.params["net"] == "3x125" and run.data.params["quick"] == "True"

    metrics = run.data.metrics
    for key in (
        "preset_samples_per_s",
        "keras_fit_samples_per_s_batch16",
        "keras_fit_samples_per_s_batch256",
        "tf_function_loop_samples_per_s",
        "bench_seconds",
    ):
        assert metrics[key] > 0, key
    # the figures are measured, not constant: the sweep's batches differ in throughput
    assert metrics["keras_fit_samples_per_s_batch256"] != metrics["keras_fit_samples_per_s_batch16"]

    table = client.download_artifacts(run.info.run_id, "benchmark.md", str(tmp_path / "dl"))
    assert "samples/s" in Path(table).read_text()
    summary = client.download_artifacts(suite.info.run_id, "summary.md", str(tmp_path / "dl"))
    assert "supercon_dnn" in Path(summary).read_text()
    result = json.loads((tmp_path / "supercon_dnn.json").read_text())
    assert result["run_id"] == run.info.run_id
    assert os.path.exists(tmp_path / "supercon_dnn.log")
