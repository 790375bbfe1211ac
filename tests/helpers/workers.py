"""What a net trained across Ray Train workers (`--workers`) leaves on its MLflow run."""

from __future__ import annotations


def assert_data_parallel(client, run, validated: str) -> None:
    """The same weights on both workers after epoch 1, disjoint rank::2 shards covering the training
    part, rows // global batch steps every epoch, both workers' node and devices named, `validated`
    logged every epoch."""
    tags, params = run.data.tags, run.data.params
    digests = {tags[f"train.worker.{rank}.weights_digest"] for rank in (0, 1)}
    assert len(digests) == 1, "the workers' weights differ after epoch 1: not one data-parallel net"
    rows = [int(tags[f"train.worker.{rank}.rows"]) for rank in (0, 1)]
    n_train = int(params["n_train"])
    batch = int(params.get("train.batch_size") or params["batch_size"])
    assert sum(rows) == n_train and abs(rows[0] - rows[1]) <= 1
    assert all(
        tags[f"train.worker.{rank}.node_id"] and "CPU" in tags[f"train.worker.{rank}.devices"] for rank in (0, 1)
    )
    steps = client.get_metric_history(run.info.run_id, "steps_per_epoch")
    epochs = client.get_metric_history(run.info.run_id, validated)
    assert {m.value for m in steps} == {n_train // batch} and len(steps) == len(epochs) >= 1
