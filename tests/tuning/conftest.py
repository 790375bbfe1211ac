"""Fixtures for tuning tests (helpers: tests/helpers/tuning.py)."""

from __future__ import annotations

import pytest
import yaml


@pytest.fixture
def small_grid(tmp_path):
    """A small supercon grid spec (fast trials): 2 x 2 x 1 points by default."""

    def write(units=(16, 32), learning_rates=(1e-3, 3e-3), epochs=2, layers=(2,)):
        spec = {
            "model": "dnn",
            "metric": "val_rmse",
            "mode": "min",
            "grid": {
                "fixed": {"dnn.epochs": epochs, "dnn.batch_size": 256, "dnn.optimizer": "sgd"},
                "space": {
                    "dnn.units": {"grid": list(units)},
                    "dnn.learning_rate": {"grid": list(learning_rates)},
                    "dnn.layers": {"grid": list(layers)},
                },
            },
        }
        path = tmp_path / "search.yaml"
        path.write_text(yaml.safe_dump(spec))
        return str(path)

    return write


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
