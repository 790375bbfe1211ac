"""One Ray Tune trial = one nested MLflow run around the task's own train function.

The trial reports every epoch's validation metrics to Tune (for ASHA and PBT) and logs them to its
MLflow run over HTTP (so it works from any node). Heavy artifacts (SHAP, network pictures, the model)
are switched off in trials; the search retrains the best config with everything on.

A model the task lists in `resumable_models` saves a checkpoint with each epoch's report (to the
search's storage); a trial that Tune restarts (a retry after its worker died, `--resume`, a PBT
exploit) continues from its last one, and its run says so (`trial.resumed_from_epoch`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import ray
from mlflow import MlflowClient
from ray import tune

from physml.errors import TrainingDiverged
from physml.models.checkpoints import Checkpoints
from physml.tasks import get_task
from physml.tasks.base import Task
from physml.tracking.lineage import log_config
from physml.tracking.runs import mark_diverged, standard_tags
from physml.tuning.restore import RESTORED_NOTE
from physml.tuning.trial_runs import close_earlier_attempts


@dataclass
class TrialSettings:
    task: str
    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    metric: str
    preset: str | None = None
    fixed: dict[str, Any] = field(default_factory=dict)
    model: str = ""  # which of the task's models the search tunes
    checkpoint_every: int = 1  # epochs between a trial's checkpoints (resumable models)


def trial_config(task: Task, settings: TrialSettings, params: dict[str, Any]):
    """The task's config for one trial: the base preset, the search's fixed keys, the trial's
    params, and what the task switches off in trials."""
    overrides = {**settings.fixed, **params, **task.trial_overrides}
    return task.load_config(preset=settings.preset, overrides=overrides)


def params_digest(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]


def finished_twin(settings: TrialSettings, digest: str):
    """A FINISHED run of this search with the same params: the trial already ran (a resumed search
    whose Tune state was saved before the trial's end was recorded)."""
    query = (
        f"tags.mlflow.parentRunId = '{settings.parent_run_id}' and tags.`trial.params_digest` = '{digest}' "
        "and attributes.status = 'FINISHED'"
    )
    runs = MlflowClient(settings.tracking_uri).search_runs([settings.experiment_id], query, max_results=1)
    return runs[0] if runs else None


def record_interruption(exc: BaseException) -> None:
    """Why this attempt did not finish, on its run: the exception as a tag, the traceback as a file."""
    mlflow.set_tag("trial.error", f"{type(exc).__name__}: {exc}"[:1000])
    mlflow.log_text("".join(traceback.format_exception(exc)), "trial_error.txt")


def trial_checkpoints(task: Task, settings: TrialSettings, trial_id: str, params: dict) -> Checkpoints | None:
    """Where the trial's training saves its state, primed with (a local copy of) the checkpoint Tune
    restores, if any."""
    if settings.model not in task.resumable_models:
        return None
    restored = tune.get_checkpoint()
    # A folder of this attempt's own: to_directory()'s default is one folder per checkpoint
    # (tempdir/checkpoint_tmp_<uuid>), shared by every trial on the node that restores the same
    # checkpoint (a PBT donor's, which the donor itself also continues from). The first to finish
    # deleted it under the others, which then trained from epoch 0 under a "resumed" tag (seen in
    # the PBT test: a run tagged trial.resumed_from_epoch 8 whose history began at epoch 1).
    folder = restored.to_directory(tempfile.mkdtemp(prefix="physml-restore-")) if restored is not None else None
    return Checkpoints(folder, settings.checkpoint_every, meta={"trial_id": trial_id, "params": params})


def accelerator_tags() -> dict[str, str]:
    """The GPUs Ray gave this trial (`--gpus-per-trial`): their ids, and CUDA_VISIBLE_DEVICES as Ray set it."""
    gpu_ids = ray.get_runtime_context().get_accelerator_ids().get("GPU", [])
    if not gpu_ids:
        return {}
    return {
        "ray.gpu_ids": ",".join(map(str, gpu_ids)),
        "ray.cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", ""),
    }


def resume_tags(checkpoints: Checkpoints | None, trial_id: str) -> dict[str, str]:
    """Where this attempt starts: the epoch of the checkpoint it continues and, when that checkpoint
    is another trial's (a PBT exploit), whose it was and under which params."""
    resumed = checkpoints.resume() if checkpoints else None
    if resumed is None:
        return {}
    tags = {"trial.resumed_from_epoch": str(resumed.epoch)}
    if RESTORED_NOTE in resumed.state:  # a copy --resume put where Tune's state named a deleted checkpoint
        tags["trial.restored_from"] = str(resumed.state[RESTORED_NOTE])[:5000]
    owner = resumed.state.get("trial_id")
    if owner and owner != trial_id:
        tags["pbt.exploited_trial"] = owner
        tags["pbt.exploited_params"] = json.dumps(resumed.state.get("params", {}), sort_keys=True)[:5000]
    return tags


UNSHARED_STORAGE = "Unable to set up cluster storage"  # Ray: this node cannot reach the search's storage


def report_epoch(metrics: dict[str, Any], folder: Path | None, checkpoints: Checkpoints | None = None) -> None:
    """One `tune.report`, with the epoch's checkpoint folder when it was saved (Tune copies it to
    the search's storage, then the local folder goes). A worker node that cannot reach that storage
    (a local --storage on a cluster) goes on without checkpoints, and its run says so."""
    try:
        if folder is None:
            tune.report(metrics)
            return
        try:
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(str(folder)))
        except RuntimeError as exc:
            if UNSHARED_STORAGE not in str(exc) or checkpoints is None:
                raise
            checkpoints.stop()
            MlflowClient().set_tag(
                metrics["mlflow_run_id"], "trial.checkpoints", "off: this node cannot reach the search's --storage"
            )
            tune.report(metrics)
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def run_trial(params: dict[str, Any], settings: TrialSettings, data) -> None:
    """The Tune function trainable: train once with `params` over the base config."""
    os.environ["PHYSML_PROGRESS"] = "0"  # no progress bars in worker logs
    os.environ.pop("MLFLOW_RUN_ID", None)  # a driver under `mlflow run` must not make trials resume its run
    mlflow.set_tracking_uri(settings.tracking_uri)
    task = get_task(settings.task)
    config = trial_config(task, settings, params)
    total_epochs = task.epochs(config, settings.model) or 1
    digest = params_digest(params)
    twin = finished_twin(settings, digest)
    if twin is not None:
        epochs = int(twin.data.params.get("trial.epochs", total_epochs))
        tune.report(
            {**twin.data.metrics, "epoch": int(epochs), "diverged": 0, "mlflow_run_id": twin.info.run_id, "reused": 1}
        )
        return
    checkpoints = trial_checkpoints(task, settings, tune.get_context().get_trial_id(), params)
    run_id = start_trial_run(task, settings, digest, checkpoints)
    mlflow.log_param("trial.epochs", total_epochs)
    log_config(config)  # the trial's resolved config: `physml reproduce` can train it again
    train_trial(task, config, settings, data, TrialReporter(run_id, total_epochs, checkpoints))


def start_trial_run(task: Task, settings: TrialSettings, digest: str, checkpoints: Checkpoints | None) -> str:
    """Open the trial's nested MLflow run (earlier attempts of the trial ended first), tagged with
    where it runs, which attempt it is and what it resumes; its run id."""
    context = tune.get_context()
    trial_id = context.get_trial_id()
    client = MlflowClient(settings.tracking_uri)
    attempt = close_earlier_attempts(client, settings.experiment_id, settings.parent_run_id, trial_id) + 1
    tags = standard_tags(task.name, settings.model, settings.preset)
    tags.update(
        {
            "ray.trial_id": trial_id,
            "ray.trial_name": context.get_trial_name(),
            "ray.node_id": ray.get_runtime_context().get_node_id(),
            **accelerator_tags(),
            "search.parent": settings.parent_run_id,
            "trial.params_digest": digest,
            "trial.attempt": str(attempt),
            **resume_tags(checkpoints, trial_id),
        }
    )
    run = mlflow.start_run(
        experiment_id=settings.experiment_id,
        run_name=context.get_trial_name(),
        parent_run_id=settings.parent_run_id,
        tags=tags,
    )
    return run.info.run_id


class TrialReporter:
    """The trial's `on_epoch_end`: each epoch's metrics (and checkpoint) to Tune. The last epoch is
    reported after the evaluation (`report_final`), so a scheduler never cuts that short."""

    def __init__(self, run_id: str, total_epochs: int, checkpoints: Checkpoints | None):
        self.run_id = run_id
        self.total_epochs = total_epochs
        self.checkpoints = checkpoints
        self.last_epoch: dict[str, float] = {}
        self.final_checkpoint: list[Path] = []  # the last epoch's, reported with the evaluation

    def __call__(self, epoch: int, metrics: dict[str, float]) -> None:
        self.last_epoch.update(metrics, epoch=epoch, diverged=0, mlflow_run_id=self.run_id)
        folder = self.checkpoints.take(epoch) if self.checkpoints else None
        if epoch < self.total_epochs:
            report_epoch(dict(self.last_epoch), folder, self.checkpoints)
        elif folder is not None:
            self.final_checkpoint.append(folder)

    def report_final(self, metrics: dict[str, float]) -> None:
        # `completed`: the model's own fit ended it (all epochs, or its early stopping), not the scheduler
        final = {**self.last_epoch, **metrics, "completed": 1}
        report_epoch(final, self.final_checkpoint[0] if self.final_checkpoint else None, self.checkpoints)


def train_trial(task: Task, config, settings: TrialSettings, data, reporter: TrialReporter) -> None:
    """Train in the trial's open run and end it: FINISHED (then the final report), FAILED when the
    training diverged, KILLED when Tune stopped the trial or it crashed."""
    checkpoints = reporter.checkpoints
    extra = {"checkpoints": checkpoints} if checkpoints is not None else {}
    try:
        result = task.train(config, settings.model, data, on_epoch_end=reporter, **extra)
    except TrainingDiverged as exc:
        mark_diverged(exc)
        mlflow.end_run(status="FAILED")
        tune.report({settings.metric: math.nan, "epoch": exc.epoch, "diverged": 1, "mlflow_run_id": reporter.run_id})
    except BaseException as exc:
        # Tune stopped the trial (ASHA: SystemExit(0) out of tune.report) or it crashed: KILLED here;
        # the driver's FinaliseTrialRuns callback then tags it early_stopped, or marks it FAILED.
        try:
            if not (isinstance(exc, SystemExit) and not exc.code):
                record_interruption(exc)
        finally:
            mlflow.end_run(status="KILLED")
        raise
    else:
        mlflow.end_run(status="FINISHED")
        reporter.report_final(result.metrics)
    finally:
        if checkpoints is not None:  # a folder never reported, and the local copy of Tune's checkpoint
            checkpoints.discard()
            if checkpoints.restore_from is not None:
                shutil.rmtree(checkpoints.restore_from, ignore_errors=True)
