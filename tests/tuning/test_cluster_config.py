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
    assert "pip install -e ~/physml" in setup and "MLFLOW_TRACKING_URI" in setup
    assert config["file_mounts"]["~/physml"] == "."
    assert any("ray start --head" in c for c in config["head_start_ray_commands"])
