"""The life of a trial's MLflow runs: no run is left RUNNING forever, whatever ended it.

A trial that Tune stopped early (ASHA) or that crashed is closed by the driver's callback; a retried
trial (FailureConfig) closes its earlier attempts when it starts again; after a search, or before it
resumes, any run still RUNNING had its process die without a word.
"""

from __future__ import annotations

import re
from pathlib import Path

from mlflow import MlflowClient
from ray import tune


def child_runs(client: MlflowClient, experiment_id: str, parent_run_id: str, condition: str) -> list:
    """The search's child runs that match an MLflow filter `condition`."""
    query = f"tags.mlflow.parentRunId = '{parent_run_id}' and {condition}"
    return client.search_runs([experiment_id], query, max_results=1000)


class FinaliseTrialRuns(tune.Callback):
    """Driver side: closes the run of a trial Tune stopped or gave up on, and writes on an attempt's
    run why Ray failed it (its error file), before Tune retries it or marks it ERROR."""

    def __init__(self, tracking_uri: str, experiment_id: str, parent_run_id: str):
        self.client = MlflowClient(tracking_uri)
        self.experiment_id, self.parent_run_id = experiment_id, parent_run_id

    def _finish(self, trial, status: str, tag: str) -> None:
        result = trial.last_result or {}
        run_id = result.get("mlflow_run_id")
        if not run_id or result.get("diverged"):
            return
        run = self.client.get_run(run_id)
        if run.info.status != "FINISHED":  # the trial did not get to the end of its train function
            self.client.set_tag(run_id, tag, "true")
            self.client.set_terminated(run_id, status)

    def _record_ray_error(self, trial) -> None:
        error = last_failure(trial.error_file)
        if error is None:
            return
        condition = f"tags.`ray.trial_id` = '{trial.trial_id}'"
        for run in child_runs(self.client, self.experiment_id, self.parent_run_id, condition):
            if run.info.status != "FINISHED" and "trial.ray_error" not in run.data.tags:
                self.client.set_tag(run.info.run_id, "trial.ray_error", summary_line(error))
                self.client.log_text(run.info.run_id, error, "ray_error.txt")

    def on_trial_recover(self, iteration, trials, trial, **info):
        self._record_ray_error(trial)  # Tune retries the trial next (FailureConfig)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._finish(trial, "KILLED", "early_stopped")

    def on_trial_error(self, iteration, trials, trial, **info):
        self._record_ray_error(trial)
        self._finish(trial, "FAILED", "trial_error")


class LastStep(tune.Callback):
    """The trials as Tune's last step left them. Tune returns normally from a Ctrl-C too (it saves its
    state and stops): a trial unfinished at the last step means the search was cut off. (At the end
    of the experiment Tune has already stopped every trial, so the statuses there say nothing.)

    Kept on the class, not the instance: a restored Tuner runs the callbacks unpickled from its saved
    state (tuner.pkl), not the ones this process made, and a driver runs one search at a time."""

    unfinished: list[str] = []
    finished = 0

    @classmethod
    def reset(cls) -> None:
        cls.unfinished, cls.finished = [], 0

    def on_step_end(self, iteration, trials, **info):
        unfinished = [trial.trial_id for trial in trials if not trial.is_finished()]
        type(self).unfinished, type(self).finished = unfinished, len(trials) - len(unfinished)


def last_failure(error_file: str | None) -> str | None:
    """The newest failure in a trial's Tune error file ("Failure # N (occurred at ...)" blocks)."""
    if not error_file or not Path(error_file).exists():
        return None
    blocks = re.split(r"^Failure # \d+ .*$", Path(error_file).read_text(), flags=re.MULTILINE)
    return blocks[-1].strip() or None


def summary_line(error: str) -> str:
    """The line that names the error: a traceback's last "XxxError: ..." line, else the first line
    (at most 500 characters)."""
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    named = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Exit)\b", line)]
    return (named[-1] if named else lines[0])[:500]


def close_earlier_attempts(client: MlflowClient, experiment_id: str, parent_run_id: str, trial_id: str) -> int:
    """Runs of earlier attempts of this trial (Tune retries a failed trial under the same id, see
    FailureConfig): each is tagged `trial.retried`; one left RUNNING (its worker was SIGKILLed) is
    ended FAILED. Returns how many there were."""
    earlier = child_runs(client, experiment_id, parent_run_id, f"tags.`ray.trial_id` = '{trial_id}'")
    for run in earlier:
        client.set_tag(run.info.run_id, "trial.retried", "true")
        if run.info.status == "RUNNING":
            client.set_terminated(run.info.run_id, "FAILED")
    return len(earlier)


def close_running_trial_runs(client: MlflowClient, experiment_id: str, parent_run_id: str, tag: str) -> int:
    """End the trial runs of this search still RUNNING as KILLED, tagged `tag`: on resume, those a
    killed search cut off (`interrupted`; Tune reruns them); after a search, any whose process died
    without a word (`orphaned`). Returns how many."""
    runs = child_runs(client, experiment_id, parent_run_id, "attributes.status = 'RUNNING'")
    for run in runs:
        client.set_tag(run.info.run_id, tag, "true")
        client.set_terminated(run.info.run_id, "KILLED")
    return len(runs)


def mark_interrupted_trials(client: MlflowClient, experiment_id: str, parent_run_id: str, trial_ids: list[str]) -> None:
    """The runs of trials a stopped search cut off (ended KILLED by their workers as Tune stopped them,
    or still RUNNING): tagged `interrupted` and KILLED, so none reads as stopped by the scheduler. A
    resumed search reruns these trials (each a new attempt; this one is then also `trial.retried`)."""
    for trial_id in trial_ids:
        condition = f"tags.`ray.trial_id` = '{trial_id}' and attributes.status != 'FINISHED'"
        for run in child_runs(client, experiment_id, parent_run_id, condition):
            client.set_tag(run.info.run_id, "interrupted", "true")
            if run.info.status == "RUNNING":
                client.set_terminated(run.info.run_id, "KILLED")


def retried_attempts(client: MlflowClient, experiment_id: str, parent_run_id: str) -> int:
    """Trial runs of this search that Tune retried (each says why in its `trial.error` tag)."""
    return len(child_runs(client, experiment_id, parent_run_id, "tags.`trial.retried` = 'true'"))


class ExperimentFolder(tune.Callback):
    """Driver side: notes the experiment's local folder, where Tune's schedulers write their logs
    (PBT's pbt_global.txt) before they are synced to a remote --storage."""

    def __init__(self):
        self.local_path: str | None = None

    def on_trial_start(self, iteration, trials, trial, **info) -> None:
        self.local_path = trial.local_experiment_path

    def read_text(self, name: str) -> str | None:
        from pathlib import Path

        path = Path(self.local_path) / name if self.local_path else None
        return path.read_text() if path is not None and path.is_file() else None
