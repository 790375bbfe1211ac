"""The team stack for real: this machine's PostgreSQL (a database created and dropped per test
session), moto's S3 server process and `mlflow server --app-name basic-auth`, all started by
`infra/team-stack.sh up` (= `physml team up`); a supercon run logged through physml must come back from the server, with its
rows in PostgreSQL and its artifacts in the bucket."""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from netrc import netrc
from pathlib import Path

import boto3
import psycopg
import pytest
import requests
from mlflow import MlflowClient

from tests.helpers.processes import REPO_ROOT, free_port, subprocess_env

pytestmark = pytest.mark.integration  # PostgreSQL, an S3 server and the team server, for real

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"


def physml(*args: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(["physml", *args], check=False, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    database = f"physml_test_{uuid.uuid4().hex[:8]}"
    home = tmp_path_factory.mktemp("team-home")
    port, s3_port = free_port(), free_port()
    env = subprocess_env("")
    env.pop("MLFLOW_TRACKING_URI")
    env.update(
        PHYSML_HOME=str(home),
        PHYSML_TEAM_DB_URL=f"{PG_SERVER}/{database}",
        AWS_ACCESS_KEY_ID="test-key",
        AWS_SECRET_ACCESS_KEY="test-secret",
        AWS_DEFAULT_REGION="us-east-1",
    )
    up = subprocess.run(
        [str(REPO_ROOT / "infra" / "team-stack.sh"), "up", "--port", str(port), "--s3-port", str(s3_port)],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )  # the README's one command
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        exports = dict(
            line.removeprefix("export ").split("=", 1) for line in up.stdout.splitlines() if line.startswith("export ")
        )
        env.update(exports)
        yield {
            "env": env,
            "url": exports["MLFLOW_TRACKING_URI"],
            "netrc": Path(exports["NETRC"]),
            "database": database,
            "s3": f"http://127.0.0.1:{s3_port}",
            "home": home,
        }
    finally:
        physml("team", "down", env=env, timeout=120)
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture
def as_admin(stack, monkeypatch):
    """This process's MLflow client authenticates with the stack's netrc file, as a user's would."""
    monkeypatch.setenv("NETRC", str(stack["netrc"]))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", stack["url"])
    return MlflowClient(stack["url"])


def test_anonymous_writes_are_rejected_and_credentials_let_users_in(stack, monkeypatch):
    create = f"{stack['url']}/api/2.0/mlflow/experiments/create"
    anonymous = requests.post(create, json={"name": "anonymous"}, timeout=30)
    assert anonymous.status_code == 401
    user, _, password = netrc(stack["netrc"]).authenticators("127.0.0.1")
    assert requests.post(create, json={"name": "wrong"}, auth=(user, "not-the-password"), timeout=30).status_code == 401
    assert requests.post(create, json={"name": "from-requests"}, auth=(user, password), timeout=30).status_code == 200
    # the secrets on disk are the owner's only: password hashes, the netrc file
    for secret in (stack["netrc"], stack["netrc"].parent / "basic_auth.db"):
        assert secret.stat().st_mode & 0o777 == 0o600, secret
    # MLflow's own client, with credentials from the environment instead of the netrc file
    monkeypatch.delenv("NETRC", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
    experiment_id = MlflowClient(stack["url"]).create_experiment("from-env-credentials")
    assert MlflowClient(stack["url"]).get_experiment(experiment_id).name == "from-env-credentials"


def test_without_credentials_physml_says_what_to_set(stack, supercon_dir):
    env = {k: v for k, v in stack["env"].items() if k != "NETRC"}
    result = physml(
        "supercon", "train", "--model", "linear", "--preset", "quick", "--data-dir", str(supercon_dir), env=env
    )
    assert result.returncode == 2
    assert "401" in result.stderr and "MLFLOW_TRACKING_USERNAME" in result.stderr and "NETRC" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_supercon_run_lands_in_postgresql_and_the_bucket(stack, as_admin, supercon_dir):
    result = physml(
        "supercon",
        "train",
        "--model",
        "linear",
        "--preset",
        "quick",
        "--experiment",
        "team-demo",
        "--set",
        "evaluation.explain=false",
        "--data-dir",
        str(supercon_dir),
        env=stack["env"],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    client = as_admin
    (run,) = client.search_runs([client.get_experiment_by_name("team-demo").experiment_id])
    assert run.info.status == "FINISHED" and run.data.params["model"] == "linear"
    assert 0.68 < run.data.metrics["test_r2"] < 0.77

    # the backend store really is PostgreSQL: the server wrote the run and its metric there
    with psycopg.connect(f"{PG_SERVER}/{stack['database']}") as connection:
        status = connection.execute("SELECT status FROM runs WHERE run_uuid = %s", (run.info.run_id,)).fetchone()
        stored_r2 = connection.execute(
            "SELECT value FROM latest_metrics WHERE run_uuid = %s AND key = 'test_r2'", (run.info.run_id,)
        ).fetchone()
    assert status == ("FINISHED",) and stored_r2[0] == pytest.approx(run.data.metrics["test_r2"])

    # the artifacts really are in the bucket, and the server's proxy serves the same bytes
    s3 = boto3.client(
        "s3",
        endpoint_url=stack["s3"],
        aws_access_key_id="test-key",
        aws_secret_access_key="test-secret",
        region_name="us-east-1",
    )
    keys = [obj["Key"] for obj in s3.list_objects_v2(Bucket="physml-artifacts")["Contents"]]
    run_files = [key for key in keys if f"/{run.info.run_id}/artifacts/" in key]
    predictions = next(key for key in run_files if key.endswith("test_predictions.json"))
    in_bucket = s3.get_object(Bucket="physml-artifacts", Key=predictions)["Body"].read()
    through_server = Path(
        client.download_artifacts(run.info.run_id, predictions.split("/artifacts/", 1)[1])
    ).read_bytes()
    assert through_server == in_bucket and len(in_bucket) > 1000

    # the registered model's files are in the bucket too (MLflow 3 keeps logged models under models/m-...)
    (version,) = client.search_model_versions(f"run_id = '{run.info.run_id}'")
    assert version.name == "supercon-linear"
    version = client.get_model_version(version.name, version.version)
    model_id = version.model_id or re.search(r"m-[0-9a-f]+", version.source).group(0)
    assert any(key.endswith(f"/models/{model_id}/artifacts/MLmodel") for key in keys), keys

    # credentials never reach params, tags or the run's output
    password = netrc(stack["netrc"]).authenticators("127.0.0.1")[2]
    logged = " ".join([*run.data.params.values(), *run.data.tags.values(), result.stdout, result.stderr])
    assert password not in logged and "test-secret" not in logged


def test_status_and_env_report_the_running_stack(stack):
    status = physml("team", "status", env=stack["env"])
    assert status.returncode == 0 and f"running at {stack['url']}" in status.stdout
    exports = physml("team", "env", env=stack["env"])
    assert f"export MLFLOW_TRACKING_URI={stack['url']}" in exports.stdout
    assert oct(os.stat(stack["netrc"]).st_mode & 0o777) == "0o600"


def test_unreachable_postgresql_is_one_clear_line(tmp_path):
    port = free_port()  # nothing listens there
    env = subprocess_env("")
    env.update(
        PHYSML_HOME=str(tmp_path),
        PHYSML_TEAM_DB_URL=f"postgresql://postgres:hunter2@127.0.0.1:{port}/physml",
        PHYSML_TEAM_ARTIFACTS="s3://bucket/mlflow",
        PHYSML_TEAM_ADMIN_PASSWORD="x",
    )
    for command in (("team", "serve", "--port", str(free_port())), ("team", "up", "--port", str(free_port()))):
        result = physml(*command, env=env, timeout=120)
        assert result.returncode == 2, result.stderr
        assert f"PostgreSQL at postgresql://postgres:***@127.0.0.1:{port}/" in result.stderr
        assert "unreachable" in result.stderr and "Traceback" not in result.stderr and "hunter2" not in result.stderr


def test_serve_names_missing_settings(tmp_path):
    env = {k: v for k, v in subprocess_env("").items() if not k.startswith("PHYSML_TEAM_")}
    result = physml("team", "serve", env=env, timeout=60)
    assert result.returncode == 2
    assert "PHYSML_TEAM_DB_URL, PHYSML_TEAM_ARTIFACTS, PHYSML_TEAM_ADMIN_PASSWORD" in result.stderr
