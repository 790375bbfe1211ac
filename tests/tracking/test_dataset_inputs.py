"""Runs that start together log the same new dataset at once (Tune trials): every one must get it.

MLflow's SQL store checks for the dataset row, then inserts it; concurrent calls race on that insert
(CI: a trial failed with "UNIQUE constraint failed: datasets..." and Tune retried it). Without
physml's retry this test saw about one failure per round of 6 threads.
"""

from __future__ import annotations

import threading
import uuid

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

from physml.tracking.runs import log_dataset_input

THREADS, ROUNDS = 6, 5


def test_runs_starting_together_all_log_the_same_new_dataset(tracking):
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(200, 5)), columns=list("abcde"))
    dataset = mlflow.data.from_pandas(frame, name="shared-training-set")
    errors, run_ids = [], []
    for _ in range(ROUNDS):
        experiment_id = mlflow.create_experiment(f"test-dataset-race-{uuid.uuid4().hex[:8]}")  # the dataset is new here
        barrier = threading.Barrier(THREADS)

        def trial(experiment_id=experiment_id, barrier=barrier):
            with mlflow.start_run(experiment_id=experiment_id) as run:  # active runs are per thread
                run_ids.append(run.info.run_id)
                barrier.wait()
                try:
                    log_dataset_input(dataset, "training")
                except Exception as exc:
                    errors.append(str(exc)[:200])

        threads = [threading.Thread(target=trial) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    client = MlflowClient(tracking)
    for run_id in run_ids:
        (logged,) = client.get_run(run_id).inputs.dataset_inputs
        assert logged.dataset.name == "shared-training-set" and logged.dataset.digest == dataset.digest
