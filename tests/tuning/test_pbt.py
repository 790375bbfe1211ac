"""Population-based training through `physml tune --search pbt`, for real: trials checkpoint each
epoch, the weak ones continue from a strong one's checkpoint under resampled values, and every
perturbation is on the record (the trial runs and the parent's copy of Tune's PBT log). The trials'
runs carry MLflow's system metrics. Tune's storage is a bucket on an S3 server (`--storage s3://`),
as on a cluster: the checkpoints travel through it."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import yaml
from mlflow import MlflowClient

from tests.helpers.tuning import one_finished_run_per_trial, physml_tune, s3_client_arguments, search_runs

EPOCHS = 4  # one perturbation point, at epoch 2 (epoch 4 ends the trials)


def test_pbt_search_exploits_checkpoints_and_records_perturbations(mlflow_server, supercon_dir, s3_storage, tmp_path):
    storage, s3_env = s3_storage  # Tune's storage on an S3 server: checkpoints go up and come back down
    spec = tmp_path / "search.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "model": "dnn",
                "metric": "val_rmse",
                "pbt": {
                    "fixed": {"dnn.epochs": EPOCHS, "dnn.batch_size": 256, "dnn.units": 16, "dnn.layers": 2},
                    "num_samples": 4,
                    "perturbation_interval": 2,
                    # trials of 0.3 s epochs: without waiting for each other at the intervals, one can
                    # finish before another reports at all, and nothing is perturbed (seen in CI)
                    "synch": True,
                    "space": {"dnn.learning_rate": {"loguniform": [1e-4, 1e-2]}},
                },
            }
        )
    )
    physml_tune(
        mlflow_server.url,
        "supercon",
        "--search",
        "pbt",
        "--spec",
        str(spec),
        "--max-concurrent",
        "4",
        "--cpus-per-trial",
        "0.5",
        "--no-retrain",
        "--set",
        "experiment=test-tune-pbt",
        "--storage",
        storage,
        "--data-dir",
        str(supercon_dir),
        env={"MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL": "1", **s3_env},  # short trials: sample each second
    )
    client = MlflowClient(mlflow_server.url)
    parent, trials, _ = search_runs(mlflow_server.url, "test-tune-pbt")
    assert parent.info.status == "FINISHED" and parent.data.params["search.kind"] == "pbt"
    assert parent.data.metrics["n_trials"] == 4 and parent.data.metrics["n_perturbations"] >= 1
    record = client.download_artifacts(parent.info.run_id, "search/pbt_global.txt", str(tmp_path))
    lines = [json.loads(line) for line in Path(record).read_text().splitlines()]
    assert len(lines) == parent.data.metrics["n_perturbations"]

    finished = one_finished_run_per_trial(trials, retries_expected=True)
    assert len(finished) == 4
    # system metrics reach the trials on Ray's workers (the driver's settings travel with them)
    for run in finished:
        cpu = client.get_metric_history(run.info.run_id, "system/cpu_utilization_percentage")
        assert cpu and all(0 <= m.value <= 100 for m in cpu), run.info.run_id
        assert run.data.metrics["system/system_memory_usage_megabytes"] > 0
    exploited = [t for t in trials if "pbt.exploited_trial" in t.data.tags]
    assert exploited, "no trial run says it continued from another trial's checkpoint"
    trial_ids = {t.data.tags["ray.trial_id"] for t in trials}
    for run in exploited:
        tags = run.data.tags
        donor_params = json.loads(tags["pbt.exploited_params"])
        start = int(tags["trial.resumed_from_epoch"])
        assert tags["pbt.exploited_trial"] in trial_ids and tags["pbt.exploited_trial"] != tags["ray.trial_id"]
        assert start >= 2 and start % 2 == 0  # at a perturbation step
        assert float(run.data.params["learning_rate"]) != donor_params["dnn.learning_rate"]  # perturbed
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_rmse")]
        assert steps and min(steps) == start + 1, (
            steps,
            tags,
            run.info,
        )  # it trained on from the donor's epoch, not from 0
    # the checkpoints and Tune's state are in the bucket, not on this disk
    keys = [
        item["Key"]
        for page in boto3.client("s3", **s3_client_arguments(s3_env))
        .get_paginator("list_objects_v2")
        .paginate(Bucket="physml-tune")
        for item in page.get("Contents", [])
    ]
    assert any("/checkpoint_" in key for key in keys) and any(key.endswith("pbt_global.txt") for key in keys), keys[:20]
    assert not (tmp_path / "ray").exists()
