"""Promotion with a metric gate: move an alias (e.g. `champion`) to the candidate version only if it
was evaluated on the same data and split as the current champion, beats it on the metric, and
passes the threshold. Every decision is recorded in the candidate version's tags."""

from __future__ import annotations

import time
from dataclasses import dataclass

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from physml.errors import PhysmlError
from physml.tasks import registered
from physml.tracking.directions import better, direction_words, metric_mode
from physml.tracking.registry import alias_version


@dataclass
class Decision:
    promoted: bool
    reason: str
    candidate_version: str
    candidate_value: float
    champion_version: str | None = None
    champion_value: float | None = None


def _run_facts(client: MlflowClient, version, metric: str) -> tuple[float, str | None, dict, str | None]:
    """(metric value, dataset digest, split params, task) of the run behind a model version."""
    run = client.get_run(version.run_id)
    if metric not in run.data.metrics:
        raise PhysmlError(f"{version.name} v{version.version} (run {version.run_id}) has no metric {metric!r}")
    inputs = run.inputs.dataset_inputs if run.inputs else []
    digest = inputs[0].dataset.digest if inputs else None
    task = registered().get(run.data.tags.get("task", ""))
    shared = task.comparability_params if task else ()
    split = {key: run.data.params[key] for key in shared if key in run.data.params}
    return run.data.metrics[metric], digest, split, run.data.tags.get("task")


def decide(
    client: MlflowClient,
    name: str,
    metric: str,
    minimum: float | None,
    maximum: float | None,
    alias: str,
    from_alias: str,
    mode: str | None = None,
) -> Decision:
    try:
        candidate = client.get_model_version_by_alias(name, from_alias)
    except MlflowException:
        raise PhysmlError(f"model {name!r} has no version with alias {from_alias!r}") from None
    value, digest, split, task = _run_facts(client, candidate, metric)
    decision = Decision(False, "", candidate.version, value)
    mode = metric_mode(metric, [task], mode)
    if minimum is not None and value < minimum:
        decision.reason = f"{metric} = {value:.4g} is below the gate --min {minimum}"
        return decision
    if maximum is not None and value > maximum:
        decision.reason = f"{metric} = {value:.4g} is above the gate --max {maximum}"
        return decision
    champion_version = alias_version(client, name, alias)
    if champion_version is None or champion_version == candidate.version:
        decision.promoted = True
        decision.reason = f"no other {alias}; {metric} = {value:.4g} passes the gate"
        return decision
    champion = client.get_model_version(name, champion_version)
    champion_value, champion_digest, champion_split, _ = _run_facts(client, champion, metric)
    decision.champion_version, decision.champion_value = champion_version, champion_value
    if digest != champion_digest:
        decision.reason = f"not comparable: dataset digest {digest} differs from the {alias}'s {champion_digest}"
    elif split != champion_split:
        decision.reason = f"not comparable: split {split} differs from the {alias}'s {champion_split}"
    elif better(mode, value, champion_value):
        decision.promoted = True
        decision.reason = f"{metric} {value:.4g} beats the {alias} v{champion_version} ({champion_value:.4g}; {direction_words(mode)})"
    else:
        decision.reason = f"{metric} {value:.4g} does not beat the {alias} v{champion_version} ({champion_value:.4g}; {direction_words(mode)})"
    return decision


def promote(
    client: MlflowClient,
    name: str,
    metric: str,
    minimum: float | None = None,
    maximum: float | None = None,
    alias: str = "champion",
    from_alias: str = "candidate",
    mode: str | None = None,
) -> Decision:
    decision = decide(client, name, metric, minimum, maximum, alias, from_alias, mode)
    if decision.promoted:
        client.set_registered_model_alias(name, alias, decision.candidate_version)
    tags = {
        f"promotion.{alias}.decision": "promoted" if decision.promoted else "rejected",
        f"promotion.{alias}.reason": decision.reason,
        f"promotion.{alias}.metric": f"{metric}={decision.candidate_value:.6g}",
        f"promotion.{alias}.previous": f"v{decision.champion_version} {metric}={decision.champion_value:.6g}"
        if decision.champion_version
        else "none",
        f"promotion.{alias}.time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, decision.candidate_version, key, value)
    return decision
