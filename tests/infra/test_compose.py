"""infra/docker-compose.yml (no Docker engine here to run it): its mlflow service gets every
setting the team server needs from the environment, and no secret is written into the file."""

import re

import yaml

from physml.tracking.team import TeamSettings
from tests.helpers.processes import REPO_ROOT


def test_compose_wires_the_team_server_from_the_environment():
    compose = yaml.safe_load((REPO_ROOT / "infra" / "docker-compose.yml").read_text())
    assert {"postgres", "minio", "create-bucket", "mlflow"} <= set(compose["services"])
    mlflow = compose["services"]["mlflow"]
    settings = TeamSettings.from_env({k: v.replace("${", "<") for k, v in mlflow["environment"].items()})
    assert settings.db_url.startswith("postgresql://") and settings.artifacts.startswith("s3://")
    assert settings.s3_endpoint == "http://minio:9000"
    secrets = [k for k in mlflow["environment"] if re.search("PASSWORD|SECRET|KEY_ID", k)]
    assert all(str(mlflow["environment"][k]).startswith("${") for k in secrets), secrets
    assert (
        mlflow["build"]["dockerfile"] == "infra/Dockerfile.mlflow"
        and (REPO_ROOT / mlflow["build"]["dockerfile"]).exists()
    )
