"""What a Ray Train plan asks of a cluster (`--workers`, `--cpus-per-worker`, `--gpus-per-worker`), and
what the run is tagged with: no Ray started (the real fits: test_data_parallel.py)."""

from __future__ import annotations

from physml.models.data_parallel import WorkerPlan, missing_resources


def test_a_plan_that_fits_the_cluster_misses_nothing():
    assert missing_resources(WorkerPlan(2, 1.0), {"CPU": 2.0, "memory": 1e9}) is None
    assert missing_resources(WorkerPlan(2, 0.5, 1.0), {"CPU": 1.0, "GPU": 2.0}) is None


def test_what_is_missing_is_said_per_resource():
    assert missing_resources(WorkerPlan(3, 1.0), {"CPU": 2.0}) == "3 CPU (3 x 1) but the cluster has 2"
    assert missing_resources(WorkerPlan(2, 1.0, 1.0), {"CPU": 2.0}) == "2 GPU (2 x 1) but the cluster has 0"


def test_the_run_is_tagged_with_the_plan():
    assert WorkerPlan(2, 1.0, 0.5).tags() == {
        "train.workers": "2",
        "train.cpus_per_worker": "1.0",
        "train.gpus_per_worker": "0.5",
    }
    assert WorkerPlan(2, 2.0).resources() == {"CPU": 2.0}
