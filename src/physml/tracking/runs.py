"""Run conventions: tags every run carries, dataset inputs, figures, model requirements."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, packages_distributions, version

import matplotlib.pyplot as plt
import mlflow

import physml
from physml.console import redacted
from physml.errors import PhysmlError, TrainingDiverged
from physml.run_result import RunResult
from physml.tracking import spool
from physml.tracking.lineage import canonical_name, lineage_tags, log_config, log_environment
from physml.tracking.lineage import git_sha as git_sha  # re-exported: it lived here
from physml.tracking.processes import process_tags


def standard_tags(task: str, model: str, preset: str | None = None) -> dict[str, str]:
    """What every run and trial is tagged with: physml's version, the lineage (code and environment:
    tracking/lineage.py), the process (host, pid: tracking/sweep.py), the task and the model."""
    tags = {"physml.version": physml.__version__, **lineage_tags(), **process_tags(), "task": task, "model": model}
    if preset:
        tags["preset"] = preset
    return tags


MAX_EXPERIMENT_NAME = 500


def use_experiment(name: str) -> str:
    """Make `name` the active experiment, creating it if needed, safely when another process creates
    it at the same moment (MLflow's set_experiment checks then creates: the loser of that race gets
    RESOURCE_ALREADY_EXISTS). Returns its id."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from physml.errors import ConfigError

    if not name or len(name) > MAX_EXPERIMENT_NAME:
        raise ConfigError(f"experiment name must be 1 to {MAX_EXPERIMENT_NAME} characters, got {len(name)}")
    client = MlflowClient()
    for _ in range(3):
        found = client.get_experiment_by_name(name)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                raise ConfigError(
                    f"experiment {name!r} is deleted on {mlflow.get_tracking_uri()}: restore it or pick another"
                )
            return mlflow.set_experiment(experiment_id=found.experiment_id).experiment_id
        try:
            return mlflow.set_experiment(experiment_id=client.create_experiment(name)).experiment_id
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
    raise ConfigError(f"experiment {name!r} could not be created or found")


@contextmanager
def task_run(experiment: str, run_name: str, tags: dict[str, str]):
    """Open a run (nested when another is active, e.g. under `mlflow run` or a tuning parent).

    An exception inside ends the run as FAILED with the reason as its `physml.error` tag; what was
    logged before stays on the server (or in the spool, when the server died: tracking/spool.py).
    """
    active = mlflow.active_run()
    if active is None:
        use_experiment(experiment)
    run = mlflow.start_run(run_name=run_name, tags=tags, nested=active is not None)
    try:
        yield run
    except BaseException as exc:
        finish_active_run("FAILED", failure_reason(exc))
        raise
    else:
        finish_active_run("FINISHED")


def failure_reason(exc: BaseException) -> str:
    """What `physml.error` says: the exception's type and message; Ctrl-C named as such."""
    if type(exc) is KeyboardInterrupt:
        return "KeyboardInterrupt: by Ctrl-C (SIGINT)"
    return f"{type(exc).__name__}: {exc}"


def finish_active_run(status: str, reason: str | None = None) -> None:
    """End the active run with `status` (and `reason` as its `physml.error` tag). When its server
    cannot be reached, the end goes to the run's spool, replayed when the server is back."""
    active = mlflow.active_run()
    if active is None:
        return
    uri = mlflow.get_tracking_uri()
    if not spool.is_down(uri):
        try:
            if reason:
                mlflow.set_tag("physml.error", redacted(reason)[:1000])
            mlflow.end_run(status=status)
            return
        except Exception as exc:
            if not spool.unreachable(exc):
                raise
            spool.mark_down(uri)
    spool.Spool(active.info.run_id, uri).end(status, reason or status)
    forget_active_run(active)


def forget_active_run(run) -> None:
    """Drop `run` from this process's stack of active runs without telling the server (which is
    gone): mlflow.end_run has no local-only mode, so this reaches into MLflow's private run stack."""
    import mlflow.tracking.fluent as fluent

    stack = fluent._active_run_stack.get()
    if run in stack:
        stack.remove(run)


def mark_diverged(exc: TrainingDiverged) -> None:
    """Tag the active run as diverged (the caller then ends it FAILED)."""
    mlflow.set_tags({"diverged": "true", "diverged_epoch": str(exc.epoch)})


def guarded_run(
    experiment: str, run_name: str, tags: dict[str, str], model: str, train: Callable[[], RunResult]
) -> RunResult:
    """One MLflow run around `train()`. A diverging net (NaN/inf loss) ends the run FAILED with the
    tag diverged=true and comes back as a diverged result, so the caller's other models still train;
    any other exception ends the run FAILED and propagates."""
    try:
        with task_run(experiment, run_name, tags) as active:
            try:
                return train()
            except TrainingDiverged as exc:
                mark_diverged(exc)
                raise
    except TrainingDiverged as exc:
        print(f"{model}: {exc}; run {active.info.run_id} marked FAILED with tag diverged=true")
        return RunResult(model=model, run_id=active.info.run_id, diverged=True)


def train_runs(task, config, models: list[str], data, tags: dict[str, str] | None = None) -> list[RunResult]:
    """One run per model (nested under an active run, e.g. `mlflow run`), each through `guarded_run`,
    with the standard tags and `tags`; each logs its config and environment (lineage.py) first and
    the evidence its task declared (tracking/evidence.py) last."""

    def train(model: str) -> RunResult:
        log_config(config)
        log_environment()
        return with_evidence(task.train(config, model, data))

    results = []
    for model in models:
        run_tags = {**standard_tags(task.name, model, config.preset), **(tags or {})}
        run_name = task.run_name(config, model)
        results.append(guarded_run(config.experiment, run_name, run_tags, model, lambda model=model: train(model)))
    return results


def with_evidence(result: RunResult) -> RunResult:
    """Log the evidence the task declared on the active run (then drop its arrays)."""
    from physml.tracking.evidence import log_evidence
    from physml.tracking.registry import withhold_first_champion

    if result.evidence is None:
        return result
    started = time.perf_counter()
    metrics, tags = log_evidence(result.evidence)
    mlflow.log_metric("evidence_seconds", time.perf_counter() - started)
    result.metrics.update(metrics)
    result.evidence = None
    refusal = [f"leak: {tags['evidence.leak']}"] if tags.get("evidence.leak", "none") != "none" else []
    refusal += (
        ["validation RMSE below the repeat-scatter floor"] if tags.get("evidence.below_floor.val") == "true" else []
    )
    if refusal and withhold_first_champion(result, "; ".join(refusal)):
        print(
            f"{result.model}: {result.registered_name} v{result.registered_version} is not made champion: {'; '.join(refusal)}"
        )
    return result


def run_task(task, config, models: list[str], data_dir=None) -> list[RunResult]:
    """What `physml <task> train` runs: the task's data loaded once (a bad file fails here, before any
    run), then one MLflow run per model (`train_runs`)."""
    return train_runs(task, config, models, task.load_data(config, data_dir))


def log_figure(figure, artifact_path: str) -> None:
    mlflow.log_figure(figure, artifact_path)
    plt.close(figure)


def pinned(*modules: str) -> list[str]:
    """A served model's requirements: `distribution==version` for each module its loading code imports
    (`tensorflow`, `xgboost`, `yaml`, ...), naming the distribution installed here whatever it is called
    (`tensorflow-cpu` or `tensorflow`, `xgboost-cpu` or `xgboost`, `pyyaml`). A name that is no
    importable module's but an installed distribution's (`scikit-learn`) pins that distribution. A
    name that neither is raises PhysmlError: a requirement is never dropped."""
    provided = packages_distributions()  # top-level module -> the distributions that install it
    pins: list[str] = []
    for name in modules:
        top = name.split(".")[0]
        dists = sorted({canonical_name(d) for d in provided.get(top, ())})
        # a module several distributions fill (mlflow: mlflow, mlflow-skinny, mlflow-tracing): the one
        # named after it, which requires the others
        dists = [d for d in dists if d == canonical_name(top)] or dists
        if not dists:
            try:
                version(name)
            except PackageNotFoundError:
                raise PhysmlError(
                    f"the model needs {name!r}, but no installed distribution provides a module or distribution "
                    "of that name: install it, or fix the task's requirements"
                ) from None
            dists = [canonical_name(name)]
        for dist in dists:
            if (pin := f"{dist}=={version(dist)}") not in pins:
                pins.append(pin)
    return pins


def log_dataset_input(dataset, context: str) -> None:
    """`mlflow.log_input` that survives two runs logging the same new dataset at once.

    MLflow's SQL store looks for the (experiment, name, digest) row and inserts it when missing; two
    concurrent calls (two Tune trials starting together) can both insert, and the second fails with a
    UNIQUE-constraint error (seen in CI: SQLite "UNIQUE constraint failed: datasets...", PostgreSQL
    says "duplicate key value"). By then the row exists, so logging again links it to this run.
    """
    from mlflow.exceptions import RestException

    try:
        mlflow.log_input(dataset, context=context)
    except RestException as exc:
        if "UNIQUE constraint failed" not in str(exc) and "duplicate key value" not in str(exc):
            raise
        mlflow.log_input(dataset, context=context)
