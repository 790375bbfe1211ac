"""Shared fixtures: the real data in ../shared/data and a real `mlflow server` process."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import pytest

from physml.tracking import server
from tests.helpers.processes import REPO_ROOT, free_port

SERVER_FIXTURES = {"mlflow_server", "tracking"}


def pytest_collection_modifyitems(items):
    """A test that needs the tracking server is an integration test (`make test-fast` leaves it out)."""
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def no_experiment_from_earlier_tests(monkeypatch):
    """MLflow's set_experiment (called in-process by fixtures and tasks) writes MLFLOW_EXPERIMENT_ID
    into the environment, which physml honours as the user's choice: no test inherits one."""
    for name in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def data_root() -> Path:
    """$PHYSML_DATA_DIR, else ../shared/data beside the repository. Missing data is an error, not a skip."""
    root = Path(os.environ.get("PHYSML_DATA_DIR") or REPO_ROOT.parent / "shared" / "data")
    assert (root / "supercon" / "train.csv.gz").exists(), f"test data not found under {root} (set PHYSML_DATA_DIR)"
    return root


@pytest.fixture(scope="session")
def supercon_dir(data_root) -> Path:
    return data_root / "supercon"


@pytest.fixture(scope="session")
def supercon_data(supercon_dir):
    from physml.tasks.supercon.data import load_supercon

    return load_supercon(supercon_dir)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real tracking server (SQLite + proxied local artifacts) for the whole test session."""
    home = tmp_path_factory.mktemp("physml-home")
    info = server.start(home=home, port=free_port())
    yield info
    server.stop(home=home)


@pytest.fixture
def tracking(mlflow_server, monkeypatch):
    """Point this test's client (and any subprocess it starts) at the session's server."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    mlflow.set_tracking_uri(mlflow_server.url)
    yield mlflow_server.url
    while mlflow.active_run():
        mlflow.end_run()


@pytest.fixture(scope="session")
def galaxy_dir(data_root) -> Path:
    folder = data_root / "galaxy_zoo"
    assert (folder / "training_solutions_rev1.csv").exists(), f"Galaxy Zoo test data not found under {folder}"
    return folder


@pytest.fixture(autouse=True, scope="session")
def isolated_image_cache(tmp_path_factory):
    """Decoded-image caches go to a temporary folder, not the user's cache."""
    os.environ["PHYSML_CACHE_DIR"] = str(tmp_path_factory.mktemp("physml-cache"))
    yield


@pytest.fixture
def s3_storage(tmp_path):
    """A bucket on a real S3-compatible server (moto's server mode, its own process): (the URI for
    `--storage`, the variables that point boto3, pyarrow and Ray Tune at it)."""
    import subprocess
    import sys
    import time

    import boto3
    import requests

    from tests.helpers.processes import free_port
    from tests.helpers.tuning import s3_client_arguments

    port = free_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "physml-test",
        "AWS_SECRET_ACCESS_KEY": "physml-test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    log = (tmp_path / "moto.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{env['AWS_ENDPOINT_URL']}/moto-api/", timeout=2)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    pytest.fail("moto's S3 server did not start")
                time.sleep(0.2)
        boto3.client("s3", **s3_client_arguments(env)).create_bucket(Bucket="physml-tune")
        yield "s3://physml-tune/ray_results", env
    finally:
        server.kill()
        server.wait(timeout=30)
        log.close()
