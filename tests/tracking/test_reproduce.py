"""Lineage on every run and `physml reproduce RUN_ID` against a real MLflow server: the quick supercon
models trained again from their logged config.yaml give the same test metrics; changed data or a
changed environment is refused (exit 2, no run) unless --force."""

from __future__ import annotations

import dataclasses
import gzip

import mlflow
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from physml.cli import main
from physml.tasks import get_task
from physml.tracking import lineage

EXPERIMENT = "test-reproduce"
MODELS = ("linear", "gbm")
TRAIN = ("supercon", "train", "--preset", "quick", "--no-register", "--experiment", EXPERIMENT)


@pytest.fixture(scope="module")
def originals(mlflow_server, supercon_dir) -> dict[str, str]:
    """`physml supercon train --model M --preset quick --no-register` for linear and gbm: run id by model."""
    for model in MODELS:
        argv = [*TRAIN, "--model", model, "--data-dir", str(supercon_dir), "--tracking-uri", mlflow_server.url]
        assert main(argv) == 0
    runs = MlflowClient(mlflow_server.url).search_runs([experiment_id(mlflow_server.url)])
    return {run.data.tags["model"]: run.info.run_id for run in runs}


def experiment_id(uri: str) -> str:
    return MlflowClient(uri).get_experiment_by_name(EXPERIMENT).experiment_id


def reproduce(uri: str, *argv: str) -> int:
    return main(["reproduce", *argv, "--tracking-uri", uri])


def run_ids(uri: str) -> set[str]:
    return {run.info.run_id for run in MlflowClient(uri).search_runs([experiment_id(uri)])}


def test_every_task_run_carries_its_lineage_and_config(originals, mlflow_server):
    client = MlflowClient(mlflow_server.url)
    run = client.get_run(originals["linear"])
    assert {key: run.data.tags[key] for key in lineage.lineage_tags()} == lineage.lineage_tags()
    assert {item.path for item in client.list_artifacts(run.info.run_id, "environment")} == {lineage.FREEZE_ARTIFACT}
    logged = yaml.safe_load(mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/{lineage.CONFIG_ARTIFACT}"))
    task = get_task("supercon")
    expected = task.load_config(preset="quick", overrides={"registry.register": False, "experiment": EXPERIMENT})
    assert logged == lineage.config_tree(expected) and logged["preset"] == "quick" and "presets" not in logged


def test_the_logged_config_loads_back_identical(tmp_path):
    for name in ("supercon", "galaxy"):
        task = get_task(name)
        config = task.load_config(preset="quick", overrides={"seed": 7})
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(lineage.config_tree(config), sort_keys=False))
        assert dataclasses.replace(task.load_config(path), presets=config.presets) == config


@pytest.mark.parametrize("model", MODELS)
def test_a_reproduced_run_has_the_same_test_metrics(originals, mlflow_server, model, data_root, monkeypatch, capsys):
    monkeypatch.setenv("PHYSML_DATA_DIR", str(data_root))  # as `make test` sets it
    uri = mlflow_server.url
    before = run_ids(uri)
    assert reproduce(uri, originals[model]) == 0
    out = capsys.readouterr().out
    new_id = out.strip().splitlines()[-1].split()[-1]
    assert run_ids(uri) - before == {new_id}
    client = MlflowClient(uri)
    original, copy = client.get_run(originals[model]), client.get_run(new_id)
    assert copy.info.status == "FINISHED"
    assert copy.data.tags["physml.reproduces"] == originals[model] and copy.data.tags["reproduce.forced"] == "false"
    tests = {name for name in original.data.metrics if name.startswith("test_")}
    assert tests and tests <= set(copy.data.metrics)
    for name in tests:
        assert copy.data.metrics[name] == pytest.approx(original.data.metrics[name], abs=1e-6), name
    assert copy.data.metrics["reproduce.max_abs_diff"] < 1e-6
    table = [line.split()[0] for line in out.splitlines() if line.startswith("test_")]
    assert table[:3] == ["test_r2", "test_rmse", "test_mae"] and sorted(table) == sorted(tests)  # the headline first


@pytest.fixture
def changed_tc(supercon_dir, tmp_path):
    """A copy of the data with one Tc value changed (in both files, which must agree)."""
    folder = tmp_path / "supercon"
    folder.mkdir()
    for name in ("train.csv.gz", "unique_m.csv.gz"):
        frame = pd.read_csv(supercon_dir / name, dtype=str, keep_default_na=False)
        frame.loc[3, "critical_temp"] = "41.5"  # MLflow's digest reads the first 10,000 rows
        with gzip.open(folder / name, "wt") as handle:
            frame.to_csv(handle, index=False)
    return folder


def test_changed_data_is_refused_unless_forced(originals, mlflow_server, changed_tc, capsys):
    uri, run_id = mlflow_server.url, originals["linear"]
    logged = MlflowClient(uri).get_run(run_id).inputs.dataset_inputs[0].dataset.digest
    before = run_ids(uri)
    assert reproduce(uri, run_id, "--data-dir", str(changed_tc)) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("physml: error: the data differ: dataset digest ") and f"{logged} in run {run_id}" in line
    assert run_ids(uri) == before

    assert reproduce(uri, run_id, "--data-dir", str(changed_tc), "--force") == 0
    (new_id,) = run_ids(uri) - before
    assert MlflowClient(uri).get_run(new_id).data.tags["reproduce.forced"] == "true"


def test_a_changed_environment_is_refused(originals, mlflow_server, supercon_dir, capsys):
    uri, run_id = mlflow_server.url, originals["gbm"]
    client = MlflowClient(uri)
    logged = client.get_run(run_id).data.tags["physml.env.hash"]
    client.set_tag(run_id, "physml.env.hash", "0123456789abcdef")
    try:
        before = run_ids(uri)
        assert reproduce(uri, run_id, "--data-dir", str(supercon_dir)) == 2
    finally:
        client.set_tag(run_id, "physml.env.hash", logged)
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"physml.env.hash {lineage.lineage_tags()['physml.env.hash']} " in line and "0123456789abcdef" in line
    assert run_ids(uri) == before


def test_only_a_finished_run_with_a_config_is_reproduced(tracking, capsys):
    client = MlflowClient(tracking)
    bare = client.create_run(
        client.create_experiment("test-reproduce-bare"), tags={"task": "supercon", "model": "linear"}
    )
    cases = [("0" * 32, f"no run '{'0' * 32}'"), (bare.info.run_id, "is RUNNING: only a FINISHED run")]
    for run_id, message in cases:
        assert reproduce(tracking, run_id) == 2
        assert message in capsys.readouterr().err
    client.set_terminated(bare.info.run_id)
    assert reproduce(tracking, bare.info.run_id) == 2
    assert "has no config.yaml: it predates config logging" in capsys.readouterr().err


def test_galaxy_digest_is_the_logged_one(tracking, galaxy_dir):
    """The galaxy task's digest (data.training_input) is that of the dataset its train logs."""
    from physml.tasks.galaxy.train import log_inputs

    task = get_task("galaxy")
    config = task.load_config(preset="quick", overrides={"data.limit": 200})
    data = task.load_data(config, galaxy_dir)
    mlflow.set_experiment("test-reproduce-galaxy")
    with mlflow.start_run() as run:
        log_inputs(config, data)
    (logged,) = MlflowClient(tracking).get_run(run.info.run_id).inputs.dataset_inputs
    assert task.dataset_digest(config, data) == logged.dataset.digest


@pytest.fixture
def fresh_lineage():
    lineage.lineage_tags.cache_clear()
    yield
    lineage.lineage_tags.cache_clear()


def test_lineage_tags(fresh_lineage, tmp_path, monkeypatch):
    monkeypatch.delenv("PHYSML_LOCK_FILE", raising=False)
    tags = lineage.lineage_tags()
    assert set(tags) == {"git_sha", "git_dirty", "physml.env.hash", "physml.env.source"}
    assert tags["git_dirty"] in ("true", "false", "unknown") and len(tags["physml.env.hash"]) == 16
    assert "physml==" in lineage.freeze()
    lineage.lineage_tags.cache_clear()
    assert lineage.lineage_tags() == tags  # the environment hash is stable

    lock = tmp_path / "requirements.lock"
    lock.write_text("numpy==2.4.0\n")
    monkeypatch.setenv("PHYSML_LOCK_FILE", str(lock))
    lineage.lineage_tags.cache_clear()
    locked = lineage.lineage_tags()
    assert locked["physml.env.source"] == "lock:requirements.lock"
    assert locked["physml.env.hash"] == lineage.short_sha256(lock.read_bytes()) != tags["physml.env.hash"]
