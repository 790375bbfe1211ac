"""ray_cluster.yaml loads and has what `ray up` needs (checked against Ray's own schema)."""

import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

from tests.helpers.processes import REPO_ROOT


def test_cluster_yaml_validates_against_rays_schema():
    config = yaml.safe_load((REPO_ROOT / "ray_cluster.yaml").read_text())
    validate_config(prepare_config(config))  # fills Ray's defaults as `ray up` does, then checks the schema
    workers = config["available_node_types"]["gpu_worker"]
    assert workers["resources"]["GPU"] >= 1 and workers["min_workers"] < workers["max_workers"]
    assert config["available_node_types"][config["head_node_type"]]["resources"] == {"CPU": 0}
    setup = "\n".join(config["setup_commands"])
    # its own Python 3.11 (uv's), first on PATH for `ray` and `physml`; physml's gpu extra at the lock's versions
    assert "uv venv --python 3.11" in setup and "physml-venv/bin" in setup and "MLFLOW_TRACKING_URI" in setup
    assert '-c ~/physml/requirements.lock -e "$HOME/physml[gpu]"' in setup
    assert config["file_mounts"]["~/physml"] == "."
    (head,) = [c for c in config["head_start_ray_commands"] if "ray start --head" in c]
    assert "--dashboard-host=127.0.0.1" in head  # dashboard + Jobs API only through `ray dashboard`'s forward
