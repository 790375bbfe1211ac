"""Driver-side bookkeeping: a trial that Tune stopped early (ASHA) or that crashed must not leave
its MLflow run RUNNING forever."""

from __future__ import annotations

from mlflow import MlflowClient
from ray import tune


class FinaliseTrialRuns(tune.Callback):
    def __init__(self, tracking_uri: str):
        self.client = MlflowClient(tracking_uri)

    def _finish(self, trial, status: str, tag: str) -> None:
        result = trial.last_result or {}
        run_id = result.get("mlflow_run_id")
        if not run_id or result.get("diverged"):
            return
        run = self.client.get_run(run_id)
        if run.info.status != "FINISHED":  # the trial did not get to the end of its train function
            self.client.set_tag(run_id, tag, "true")
            self.client.set_terminated(run_id, status)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._finish(trial, "KILLED", "early_stopped")

    def on_trial_error(self, iteration, trials, trial, **info):
        self._finish(trial, "FAILED", "trial_error")
