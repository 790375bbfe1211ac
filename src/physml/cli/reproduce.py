"""`physml reproduce RUN_ID`: train a finished run again from what it logged (its task and model tags,
its `config.yaml`) and compare the test metrics.

Refused (exit 2) when the data's digest or the environment's hash differ from the run's, unless
`--force`; another commit or a dirty tree is a warning (the code version is recorded, not enforced).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

from physml.cli.common import add_tracking_args
from physml.errors import ConfigError, PhysmlError

RUN_ID = re.compile(r"[A-Za-z0-9][\w\-]{0,255}")  # what MLflow accepts as a run id
CONTEXT_TAG = "mlflow.data.context"  # MLflow's tag on a dataset input: training, evaluation, ...


def finished_run(client, run_id: str):
    from mlflow.exceptions import RestException

    try:
        run = client.get_run(run_id)
    except RestException as exc:
        if exc.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise
        raise PhysmlError(f"no run {run_id!r} on {client.tracking_uri}") from None
    if run.info.status != "FINISHED":
        raise PhysmlError(f"run {run_id} is {run.info.status}: only a FINISHED run can be reproduced")
    return run


def task_and_model(run):
    """The registered task and the model the run trained, from its `task` and `model` tags."""
    from physml.tasks import get_task

    name, model = run.data.tags.get("task"), run.data.tags.get("model")
    if not name:
        raise PhysmlError(f"run {run.info.run_id} has no 'task' tag: it is not a physml task run")
    task = get_task(name)
    if model not in task.models:
        raise PhysmlError(
            f"run {run.info.run_id} trained {model!r}, not one of {task.name}'s models ({', '.join(task.models)})"
        )
    return task, model


def logged_config(client, task, run):
    """The run's `config.yaml`, loaded by its task as any config file is."""
    from physml.tracking.lineage import CONFIG_ARTIFACT

    run_id = run.info.run_id
    if CONFIG_ARTIFACT not in {item.path for item in client.list_artifacts(run_id)}:
        raise PhysmlError(f"run {run_id} has no {CONFIG_ARTIFACT}: it predates config logging and cannot be reproduced")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(client.download_artifacts(run_id, CONFIG_ARTIFACT, tmp))
        try:
            return task.load_config(path)
        except ConfigError as exc:
            raise ConfigError(f"run {run_id}'s {CONFIG_ARTIFACT} no longer loads: {exc}") from None


def logged_digest(run) -> str | None:
    """The digest of the dataset the run logged for training (else of its first dataset input)."""
    inputs = run.inputs.dataset_inputs if run.inputs else []
    training = [i for i in inputs if any(t.key == CONTEXT_TAG and t.value == "training" for t in i.tags)]
    chosen = training or inputs
    return chosen[0].dataset.digest if chosen else None


def checks(task, config, data, run) -> tuple[list[str], list[str]]:
    """(what refuses the reproduction unless forced: other data, another environment; what is only a
    warning: data that cannot be compared, other code)."""
    from physml.tracking.lineage import lineage_tags

    refusals, warnings = [], []
    tags, now, run_id = run.data.tags, lineage_tags(), run.info.run_id
    digest, logged = task.dataset_digest(config, data), logged_digest(run)
    if digest is None or logged is None:
        missing = f"{task.name} gives no dataset digest" if digest is None else f"run {run_id} logged no dataset"
        warnings.append(f"{missing}: the data are not compared")
    elif digest != logged:
        refusals.append(f"the data differ: dataset digest {digest} now, {logged} in run {run_id}")
    if now["physml.env.hash"] != tags.get("physml.env.hash"):
        refusals.append(
            f"the environment differs: physml.env.hash {now['physml.env.hash']} ({now['physml.env.source']}) now, "
            f"{tags.get('physml.env.hash')} ({tags.get('physml.env.source')}) in run {run_id}"
        )
    return refusals, warnings + code_warnings(now, tags, run_id)


def code_warnings(now: dict[str, str], tags: dict[str, str], run_id: str) -> list[str]:
    """Another commit, or uncommitted changes now or then: recorded, not enforced."""
    warnings = []
    if now["git_sha"] != tags.get("git_sha"):
        warnings.append(f"the code differs: git_sha {now['git_sha']} now, {tags.get('git_sha')} in run {run_id}")
    if now["git_dirty"] == "true":
        warnings.append("the source tree has uncommitted changes now (git_dirty=true)")
    if tags.get("git_dirty") == "true":
        warnings.append(f"run {run_id} was trained from a tree with uncommitted changes (git_dirty=true)")
    return warnings


def metric_rows(task, original: dict[str, float], reproduced: dict[str, float]) -> list[list]:
    """[metric, original, reproduced, difference] for each test_ metric both runs have, headline first."""
    shared = sorted(name for name in original.keys() & reproduced.keys() if name.startswith("test_"))
    order = [name for name in task.headline if name in shared] + [name for name in shared if name not in task.headline]
    return [[name, original[name], reproduced[name], reproduced[name] - original[name]] for name in order]


def cmd_reproduce(args: argparse.Namespace) -> int:
    import mlflow
    from mlflow import MlflowClient

    from physml.display import text_table
    from physml.tracking.runs import train_runs
    from physml.tracking.server import resolve_tracking_uri

    if not RUN_ID.fullmatch(args.run_id):  # bad input (a path, a URI): exit 2 before any server is asked
        raise PhysmlError(f"{args.run_id!r} is not a run id (letters, digits, '-' and '_'; e.g. 32 hex digits)")
    uri = resolve_tracking_uri(args.tracking_uri, autostart=False)
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    original = finished_run(client, args.run_id)
    task, model = task_and_model(original)
    config = logged_config(client, task, original)
    config.experiment = client.get_experiment(original.info.experiment_id).name
    if hasattr(getattr(config, "registry", None), "register"):
        config.registry.register = args.register
    data = task.load_data(config, args.data_dir)
    refusals, warnings = checks(task, config, data, original)
    if refusals and not args.force:
        raise PhysmlError("; ".join(refusals) + " (--force trains anyway)")
    for line in [*warnings, *(f"{refusal}; training anyway (--force)" for refusal in refusals)]:
        print(f"physml: warning: {line}", file=sys.stderr)

    tags = {"physml.reproduces": original.info.run_id, "reproduce.forced": str(bool(refusals)).lower()}
    (result,) = train_runs(task, config, [model], data, tags)
    if result.diverged:
        return 3
    rows = metric_rows(task, original.data.metrics, client.get_run(result.run_id).data.metrics)
    if rows:
        client.log_metric(result.run_id, "reproduce.max_abs_diff", max(abs(row[3]) for row in rows))
        print(text_table(["metric", "original", "reproduced", "difference"], rows))
    else:
        print(f"runs {original.info.run_id} and {result.run_id} share no test_ metric")
    print(f"reproduced {original.info.run_id} as run {result.run_id}")
    return 0


def add_commands(sub) -> None:
    reproduce = sub.add_parser(
        "reproduce",
        help="train a finished run again from its logged config and compare its test metrics",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    reproduce.add_argument("run_id", help="the run to reproduce (it must be FINISHED and have logged config.yaml)")
    reproduce.add_argument(
        "--force", action="store_true", help="train even if the data's digest or the environment's hash differ"
    )
    reproduce.add_argument("--register", action="store_true", help="register the new model, as a train would")
    reproduce.add_argument("--data-dir", help="the task's data folder (default: $PHYSML_DATA_DIR/<the task's folder>)")
    add_tracking_args(reproduce)
    reproduce.set_defaults(func=cmd_reproduce)
