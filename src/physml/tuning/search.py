"""A Ray Tune search as one parent MLflow run with a nested child run per trial.

grid: Tune's grid over the spec (every point once). bayes: a model-based searcher (Optuna's TPE, or a
Gaussian process: tuning/searchers.py) behind a concurrency limit, with ASHA stopping weak trials early
on the per-epoch validation metric. pbt: population-based training, which every
`perturbation_interval` epochs restarts the weaker trials from a stronger one's checkpoint with
resampled values (Tune's log of it goes on the parent run). After the search, the best config is
retrained with full logging (SHAP / network pictures, the model) and registered as a new version with
the alias `candidate`. `resume=True` continues an interrupted search (killed, or stopped with Ctrl-C)
from its Tune state without redoing finished trials.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import ray
from mlflow import MlflowClient
from ray import tune
from ray.tune.schedulers import ASHAScheduler, PopulationBasedTraining
from ray.tune.search import ConcurrencyLimiter

from physml.console import QUIET
from physml.errors import ConfigError, SearchInterrupted
from physml.tasks import get_task
from physml.tasks.base import Task
from physml.tracking import stops
from physml.tracking.epochs import FLUSH_VARIABLE
from physml.tracking.processes import process_tags
from physml.tracking.runs import run_task, standard_tags, use_experiment
from physml.tracking.server import home_dir
from physml.tracking.spool import RETRY_VARIABLES
from physml.tracking.system_metrics import VARIABLES as SYSTEM_METRICS
from physml.tuning.options import SearchOptions
from physml.tuning.restore import repair_missing_checkpoints
from physml.tuning.searchers import bayes_searcher
from physml.tuning.spaces import SearchSpec, load_search_spec, validate_search
from physml.tuning.storage import SearchStorage, search_storage
from physml.tuning.summary import log_pbt_record, log_search_summary, results_table
from physml.tuning.trainable import TrialSettings, run_trial, trial_config
from physml.tuning.trial_runs import (
    ExperimentFolder,
    FinaliseTrialRuns,
    LastStep,
    close_running_trial_runs,
    mark_interrupted_trials,
    retried_attempts,
)

STATE_FILE = "physml_search.json"
# What ASHA's rungs and PBT's interval count: the epoch (a boosted model's round) each report ends,
# as the trial reports it, so a model reporting every N rounds is judged by rounds, not by reports.
TIME_ATTR = "epoch"


@dataclass
class SearchOutcome:
    parent_run_id: str
    results: pd.DataFrame
    best_config: dict[str, Any]
    best_metric: float
    best_run_id: str | None = None


@dataclass
class SearchPlan:
    """What run_search settles before Ray starts: the task, the user's options, the checked spec, the
    trials' settings (the parent run and the fixed keys among them), the search's saved state (its
    parent run, its wall time so far), the base config and its epochs, and where Tune keeps its state."""

    task: Task
    options: SearchOptions
    spec: SearchSpec
    settings: TrialSettings
    state: dict[str, Any]
    base: Any
    epochs: int
    storage: SearchStorage

    @property
    def state_path(self) -> Path:
        return self.storage.state_dir / STATE_FILE


def build_tuner(
    spec: SearchSpec, options: SearchOptions, trainable, storage: SearchStorage, callbacks, epochs: int
) -> tune.Tuner:
    if options.resume and tune.Tuner.can_restore(storage.experiment):
        print(f"resuming the search in {storage.experiment}")
        try:
            for line in repair_missing_checkpoints(storage.experiment):
                print(f"physml: {line}")
        except Exception as exc:  # a check, not the restore: Tune's own restore goes on and says what it finds
            print(f"physml: could not check the trials' checkpoints before resuming: {exc}", file=sys.stderr)
        return tune.Tuner.restore(storage.experiment, trainable, resume_unfinished=True, resume_errored=True)
    if spec.kind == "grid":
        search_alg, scheduler, samples = None, None, 1
    elif spec.kind == "pbt":
        search_alg, samples = None, options.num_samples or spec.num_samples
        scheduler = PopulationBasedTraining(
            time_attr=TIME_ATTR,
            perturbation_interval=spec.perturbation_interval,
            hyperparam_mutations=spec.tune_space(),
            synch=spec.synch,  # Ray's default (false): a trial exploits whoever has reported by then
        )
    else:
        searcher = bayes_searcher(spec.searcher, spec.startup_trials, options.seed)
        search_alg = ConcurrencyLimiter(searcher, max_concurrent=options.max_concurrent)
        asha = spec.asha or {}
        scheduler = ASHAScheduler(
            time_attr=TIME_ATTR,
            max_t=epochs,
            grace_period=min(asha.get("grace_period", 1), epochs),  # short runs: no later rung
            reduction_factor=asha.get("reduction_factor", 3),
        )
        samples = options.num_samples or spec.num_samples
    tune_config = tune.TuneConfig(
        metric=spec.metric,
        mode=spec.mode,
        num_samples=samples,
        search_alg=search_alg,
        scheduler=scheduler,
        max_concurrent_trials=options.max_concurrent,
        # a trial in a warm worker skips ~14 s of imports. Not under PBT: a function trainable's thread
        # can still report after Tune paused its trial, and a reused actor then hands that result to the
        # next trial it runs (see ray-project/ray PR #38284's discussion of paused trials). Seen in CI with
        # Ray 2.60: a trial took another's final result (its MLflow run id, epoch = the last), met the
        # stop criterion and ended without its own last attempt.
        reuse_actors=spec.kind != "pbt",
    )
    run_config = tune.RunConfig(
        name=storage.name,
        storage_path=storage.tune_root,
        # A trial's last report (its evaluation) ends it before any scheduler sees it: PBT would
        # otherwise clone a finished trial at that step and train it again from a donor's last epoch.
        stop={TIME_ATTR: epochs},
        callbacks=callbacks,
        verbose=1,
        failure_config=tune.FailureConfig(max_failures=options.max_failures),
        checkpoint_config=checkpoint_config(spec.kind),
    )
    return tune.Tuner(trainable, param_space=spec.tune_space(), tune_config=tune_config, run_config=run_config)


@contextmanager
def sigint_handler_kept():
    """Ctrl-C as it was before the Tuner ran. Tune (tune.py `_setup_signal_catching`, Ray 2.60) installs
    its own SIGINT handler for the fit and puts the old one back only when it has caught a Ctrl-C; after
    a fit that ended normally its handler stays, and a Ctrl-C during the retraining of the best would
    only set an event nobody reads."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.getsignal(signal.SIGINT)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def checkpoint_config(kind: str) -> tune.CheckpointConfig:
    """The latest two checkpoints per trial; under PBT every one. PBT registers a top trial's
    checkpoint again when it exploits it, and Tune's pruning (CheckpointConfig.num_to_keep) then
    deletes one folder twice ("Error handling checkpoint ... FileNotFoundError", seen with Ray 2.60),
    losing the bookkeeping a later exploit or restore needs. PBT searches are short: keep them all."""
    return tune.CheckpointConfig(num_to_keep=None if kind == "pbt" else 2)


def retrain_best(
    task: Task, options: SearchOptions, best_config: dict[str, Any], settings: TrialSettings
) -> str | None:
    """The best config on the full training part, evaluated on the test part, with every artifact,
    registered as a new version with alias `candidate` (a nested run of the search)."""
    config = task.load_config(preset=options.preset, overrides={**settings.fixed, **best_config})
    (result,) = run_task(task, config, [settings.model], options.data_dir)
    mlflow.log_metrics({f"best_{key}": value for key, value in result.metrics.items() if key.startswith("test_")})
    mlflow.set_tag("best_run_id", result.run_id)
    return result.run_id


def search_state(options: SearchOptions, experiment: str, client: MlflowClient, state_path: Path) -> dict[str, Any]:
    """The search's parent run and accumulated wall time: from the saved state on resume; under
    `mlflow run -e tune` the project run; otherwise a new parent run."""
    if options.resume and state_path.exists():
        return json.loads(state_path.read_text())
    tags = {**standard_tags(options.task, "search", options.preset), "search.kind": options.kind}
    if os.environ.get("MLFLOW_RUN_ID"):
        project_run = client.get_run(os.environ.pop("MLFLOW_RUN_ID"))  # popped: nested runs must not resume it
        for key, value in tags.items():
            client.set_tag(project_run.info.run_id, key, value)
        return {
            "parent_run_id": project_run.info.run_id,
            "experiment_id": project_run.info.experiment_id,
            "wall_seconds": 0.0,
        }
    experiment_id = use_experiment(experiment)
    parent = client.create_run(experiment_id, run_name=f"search-{options.task}-{options.kind}", tags=tags)
    return {"parent_run_id": parent.info.run_id, "experiment_id": experiment_id, "wall_seconds": 0.0}


def run_search(options: SearchOptions, tracking_uri: str) -> SearchOutcome:
    task = get_task(options.task)
    spec = load_search_spec(task, options.kind, options.spec_path)
    fixed = fixed_settings(task, spec, options, tracking_uri)
    draft = TrialSettings(task.name, tracking_uri, "", "", spec.metric, options.preset, fixed, spec.model)
    base = trial_config(task, draft, {})
    epochs = task.epochs(base, spec.model) or 1
    storage = search_storage(options.storage, options.name or f"{options.task}-{options.kind}", home_dir())

    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri)
    state = search_state(options, base.experiment, client, storage.state_dir / STATE_FILE)
    experiment_id, parent_run_id = state["experiment_id"], state["parent_run_id"]
    os.environ.pop("MLFLOW_RUN_ID", None)  # the parent is explicit from here on; nested runs must not resume it
    if options.resume:
        reopen_parent_run(client, experiment_id, parent_run_id)
    settings = TrialSettings(
        options.task,
        tracking_uri,
        experiment_id,
        parent_run_id,
        spec.metric,
        options.preset,
        fixed,
        spec.model,
        options.checkpoint_every,
    )

    try:
        return search(SearchPlan(task, options, spec, settings, state, base, epochs, storage))
    except BaseException as exc:
        end_failed_search(client, experiment_id, parent_run_id, exc)
        raise


def fixed_settings(task: Task, spec: SearchSpec, options: SearchOptions, tracking_uri: str) -> dict[str, Any]:
    """The config keys every trial shares: the spec's fixed ones, the user's overrides and --epochs,
    and the experiment `experiment_from` picks; checked before Ray starts or any run opens."""
    fixed = {**spec.fixed, **options.overrides}
    epochs_key = task.epochs_key.get(spec.model)
    if options.epochs is not None:
        if not epochs_key:
            raise ConfigError(f"--epochs: model {spec.model!r} of {task.name} has no epochs")
        fixed[epochs_key] = options.epochs
    validate_search(task, spec, fixed, options.preset)  # a bad spec stops here: no Ray, no run
    if spec.kind == "pbt" and spec.perturbation_interval % options.checkpoint_every:
        raise ConfigError(
            f"--checkpoint-every {options.checkpoint_every} must divide the pbt perturbation_interval "
            f"({spec.perturbation_interval}): an exploited trial continues from a checkpoint at that step"
        )
    if "experiment" not in fixed and options.experiment_from and (experiment := options.experiment_from(tracking_uri)):
        fixed["experiment"] = experiment
    return fixed


def reopen_parent_run(client: MlflowClient, experiment_id: str, parent_run_id: str) -> None:
    """On --resume: the trial runs the last attempt left open end `interrupted`, and what stopped the
    search last time is history now: kept as `search.resumed_after`."""
    close_running_trial_runs(client, experiment_id, parent_run_id, "interrupted")
    tags = client.get_run(parent_run_id).data.tags
    if tags.get("search.error"):
        client.set_tag(parent_run_id, "search.resumed_after", tags["search.error"])
        client.delete_tag(parent_run_id, "search.error")
    if "physml.error" in tags:  # a killed search's parent that a dead-process sweep ended (tracking/sweep.py)
        client.delete_tag(parent_run_id, "physml.error")
    for key, value in process_tags().items():  # this process holds the parent now
        client.set_tag(parent_run_id, key, value)


def end_failed_search(client: MlflowClient, experiment_id: str, parent_run_id: str, exc: BaseException) -> None:
    """Whatever stopped the search, no run of it stays RUNNING: trial runs still open are ended
    KILLED (`orphaned`; `interrupted` when the user stopped it), the parent FAILED (KILLED when
    interrupted) with the reason as `search.error`."""
    stopped = isinstance(exc, (KeyboardInterrupt, SearchInterrupted))  # by the user: --resume continues it
    try:
        close_running_trial_runs(client, experiment_id, parent_run_id, "interrupted" if stopped else "orphaned")
        if client.get_run(parent_run_id).info.status == "RUNNING":
            client.set_tag(parent_run_id, "search.error", f"{type(exc).__name__}: {exc}"[:1000])
            client.set_terminated(parent_run_id, "KILLED" if stopped else "FAILED")
    except Exception as cleanup:  # the server may be the thing that failed; the original error is what matters
        print(f"physml: could not close the search's runs on the server: {cleanup}", file=sys.stderr)


def search(plan: SearchPlan) -> SearchOutcome:
    """Start Ray (unless running), fit the Tuner, record the search on its parent run, retrain the best."""
    started_ray = start_ray(plan.options.address)
    try:
        result_grid, folder = fit_tuner(plan)
        return record_search(plan, result_grid, folder)
    finally:
        if started_ray:
            ray.shutdown()


def start_ray(address: str | None) -> bool:
    """Start Ray (a local one, or join `address`) unless it is running; whether this call started it."""
    if ray.is_initialized():
        return False
    # trials (on any node) inherit the driver's quiet TensorFlow/MLflow settings, its bounded
    # retries, its system-metrics and per-epoch flush settings and its home (where a trial's spool
    # goes when the server dies), the folders its tasks' YAML is found in, and the login to the tracking
    # server (a URI's user info is moved into these variables: tracking/server.py credentials_to_environment)
    logins = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")
    physml = ("PHYSML_SERVER_WAIT_SECONDS", "PHYSML_PROJECTS_DIR")
    shared = (*QUIET, *RETRY_VARIABLES, *SYSTEM_METRICS, *physml, FLUSH_VARIABLE, *logins)
    quiet = {name: value for name, value in os.environ.items() if name in shared}
    quiet["PHYSML_HOME"] = str(home_dir())
    ray.init(
        address=address or "local",
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        runtime_env={"env_vars": quiet},
    )
    stops.reinstall()  # ray.init took SIGTERM over in the driver (sys.exit): it stops the search as Ctrl-C does
    return True


def trial_resources(options) -> dict[str, float]:
    """What Ray reserves for each trial. A trial that asks for no CPU or GPU (its training asks Ray for
    its own workers: Ray Train) still reserves 1 MiB of memory: Tune refuses a trial whose bundle is
    empty ("Cannot initialize a ResourceRequest with an empty head and zero worker bundles")."""
    resources = {"cpu": options.cpus_per_trial, "gpu": options.gpus_per_trial}
    return resources if any(resources.values()) else {**resources, "memory": 2**20}


def fit_tuner(plan: SearchPlan) -> tuple[tune.ResultGrid, ExperimentFolder]:
    """Run the trials (from Tune's saved state on --resume), adding the time to the search's wall time.
    A search stopped with trials unfinished marks them and raises SearchInterrupted."""
    options, settings, storage = plan.options, plan.settings, plan.storage
    started = time.perf_counter()
    data = plan.task.load_data(plan.base, options.data_dir)
    trainable = tune.with_resources(
        tune.with_parameters(run_trial, settings=settings, data=data), trial_resources(options)
    )
    folder = ExperimentFolder()
    LastStep.reset()
    callbacks = [
        FinaliseTrialRuns(settings.tracking_uri, settings.experiment_id, settings.parent_run_id),
        folder,
        LastStep(),
    ]
    tuner = build_tuner(plan.spec, options, trainable, storage, callbacks, plan.epochs)
    storage.state_dir.mkdir(parents=True, exist_ok=True)
    plan.state_path.write_text(json.dumps(plan.state))
    with sigint_handler_kept():
        result_grid = tuner.fit()
    plan.state["wall_seconds"] += time.perf_counter() - started
    plan.state_path.write_text(json.dumps(plan.state))
    if LastStep.unfinished:
        client = MlflowClient(settings.tracking_uri)
        mark_interrupted_trials(client, settings.experiment_id, settings.parent_run_id, LastStep.unfinished)
        raise SearchInterrupted(
            f"the search stopped with {len(LastStep.unfinished)} trial(s) unfinished ({LastStep.finished} finished); "
            f"Tune saved its state in {storage.experiment}: run the same command with --resume to continue"
        )
    return result_grid, folder


def record_search(plan: SearchPlan, result_grid: tune.ResultGrid, folder: ExperimentFolder) -> SearchOutcome:
    """The search's results, best config and counts on its parent run; the best retrained (unless not asked)."""
    spec, settings, options = plan.spec, plan.settings, plan.options
    experiment_id, parent_run_id = settings.experiment_id, settings.parent_run_id
    client = MlflowClient(settings.tracking_uri)
    orphaned = close_running_trial_runs(client, experiment_id, parent_run_id, "orphaned")
    table = results_table(result_grid, spec, plan.epochs)
    best = result_grid.get_best_result(metric=spec.metric, mode=spec.mode)
    best_config = {key: best.config[key] for key in spec.space}
    best_metric = float(best.metrics[spec.metric])

    mlflow.set_experiment(experiment_id=experiment_id)
    with mlflow.start_run(run_id=parent_run_id):
        extra_metrics = {
            "n_retried_attempts": retried_attempts(client, experiment_id, parent_run_id),
            "n_orphaned": orphaned,
            f"best_{spec.metric}": best_metric,
            "wall_seconds": plan.state["wall_seconds"],
        }
        if spec.kind == "pbt":
            extra_metrics["n_perturbations"] = log_pbt_record(
                folder.read_text("pbt_global.txt") or plan.storage.read_text("pbt_global.txt")
            )
        log_search_summary(options, spec, settings.fixed, table, best_config, extra_metrics)
        best_run_id = retrain_best(plan.task, options, best_config, settings) if options.retrain_best else None
    return SearchOutcome(parent_run_id, table, best_config, best_metric, best_run_id)
