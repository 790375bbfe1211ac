"""Promotion with a metric gate: move an alias (e.g. `champion`) to the candidate version only if it
was evaluated on the same data and split as the current champion, beats it on the metric, and
passes the threshold. Every decision is recorded in the candidate version's tags.

With a coverage tolerance, a run's uncertainty must keep its promise too: its conformal interval
(or prediction set) on the decision part must cover within the tolerance of its level (the run's
`interval_level` or `set_level` param), and may not be wider (larger) than the champion's when the
champion keeps the same promise at the same level.

The decision is taken on the validation part by default: `rmse` means the run's `val_rmse` (its
`best_val_rmse` where the run kept its best epoch); the test part is only reported (its headline
metrics go into the record), unless a `test_` metric is named explicitly."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from physml.errors import PhysmlError
from physml.judging.directions import better, direction_words, metric_mode
from physml.judging.evidence_gate import evidence_failure
from physml.judging.uncertainty import Coverage, coverage_of
from physml.tasks import registered
from physml.tasks.base import SPLIT_PREFIXES
from physml.tracking.registry import alias_version


@dataclass
class Decision:
    promoted: bool
    reason: str
    candidate_version: str
    candidate_value: float
    champion_version: str | None = None
    champion_value: float | None = None
    metric: str = ""  # the metric decided on, as the runs log it (val_rmse, best_val_accuracy, test_r2, ...)
    candidate_test: dict[str, float] = field(default_factory=dict)  # reported, not decided on
    champion_test: dict[str, float] = field(default_factory=dict)
    candidate_coverage: Coverage | None = None


def decision_metric(metric: str, part: str = "val") -> str:
    """The metric a decision reads: a base name (`rmse`) on `part` (`val_rmse`); a prefixed name as given."""
    return metric if metric.startswith(SPLIT_PREFIXES) else f"{part}_{metric}"


@dataclass
class RunFacts:
    value: float
    metric: str  # the logged name the value came from
    digest: str | None
    split: dict
    task: str | None
    test: dict[str, float]
    coverage: Coverage | None = None
    run: Any = None  # the run itself, for the evidence checks


def _run_facts(client: MlflowClient, version, metric: str) -> RunFacts:
    """The value of `metric` (a validation metric: the best epoch's where the run logged one), the
    dataset digest, split params, task and headline test metrics of the run behind a model version."""
    run = client.get_run(version.run_id)
    metrics = run.data.metrics
    logged = f"best_{metric}" if metric.startswith("val_") and f"best_{metric}" in metrics else metric
    if logged not in metrics:
        raise PhysmlError(f"{version.name} v{version.version} (run {version.run_id}) has no metric {metric!r}")
    inputs = run.inputs.dataset_inputs if run.inputs else []
    digest = inputs[0].dataset.digest if inputs else None
    task = registered().get(run.data.tags.get("task", ""))
    shared = task.comparability_params if task else ()
    split = {key: run.data.params[key] for key in shared if key in run.data.params}
    headline = task.headline if task else sorted(m for m in metrics if m.startswith("test_"))[:3]
    test = {name: metrics[name] for name in headline if name in metrics}
    part = logged.removeprefix("best_").split("_", 1)[0]
    coverage = coverage_of(run, part)
    return RunFacts(metrics[logged], logged, digest, split, run.data.tags.get("task"), test, coverage, run)


def decide(
    client: MlflowClient,
    name: str,
    metric: str,
    minimum: float | None,
    maximum: float | None,
    alias: str,
    from_alias: str,
    mode: str | None = None,
    coverage_tolerance: float | None = None,
    ignored: tuple[str, ...] = (),
) -> Decision:
    """Whether the `from_alias` version may take `alias`: it passes the gates and the evidence checks
    (judging/evidence_gate.py; `ignored` names those overridden), and there is no other holder of the
    alias or it beats that one on comparable terms. Nothing is changed here."""
    try:
        candidate = client.get_model_version_by_alias(name, from_alias)
    except MlflowException:
        raise PhysmlError(f"model {name!r} has no version with alias {from_alias!r}") from None
    facts = _run_facts(client, candidate, metric)
    value, metric = facts.value, facts.metric
    decision = Decision(False, "", candidate.version, value, metric=metric, candidate_test=facts.test)
    decision.candidate_coverage = facts.coverage
    mode = metric_mode(metric, [facts.task], mode)
    failed = gate_failure(facts, minimum, maximum, coverage_tolerance) or evidence_of(
        facts, coverage_tolerance, ignored
    )
    if failed:
        decision.reason = failed
        return decision
    champion_version = alias_version(client, name, alias)
    if champion_version is None or champion_version == candidate.version:
        decision.promoted = True
        decision.reason = f"no other {alias}; {metric} = {value:.4g} passes the gate"
        return decision
    held = _run_facts(client, client.get_model_version(name, champion_version), metric)
    decision.champion_version, decision.champion_value, decision.champion_test = champion_version, held.value, held.test
    decision.promoted, decision.reason = against_champion(
        facts, held, mode, alias, champion_version, coverage_tolerance
    )
    return decision


def gate_failure(
    facts: RunFacts, minimum: float | None, maximum: float | None, coverage_tolerance: float | None
) -> str | None:
    """Why the candidate fails the gates (--min, --max, its coverage within --coverage-tolerance), or None."""
    metric, value = facts.metric, facts.value
    if minimum is not None and value < minimum:
        return f"{metric} = {value:.4g} is below the gate --min {minimum}"
    if maximum is not None and value > maximum:
        return f"{metric} = {value:.4g} is above the gate --max {maximum}"
    if coverage_tolerance is None:
        return None
    if facts.coverage is None:
        return f"--coverage-tolerance: the run logged no interval or set coverage with {metric}'s part"
    if facts.coverage.misses(coverage_tolerance):
        cover = facts.coverage
        return (
            f"{cover.coverage_metric} = {cover.coverage:.4g} misses its level {cover.level:g} by more than "
            f"--coverage-tolerance {coverage_tolerance:g}"
        )
    return None


def evidence_of(facts: RunFacts, coverage_tolerance: float | None, ignored: tuple[str, ...]) -> str | None:
    """Why the candidate's evidence refuses it (the task's tolerances; an explicit --coverage-tolerance
    was checked by the gate already), or None."""
    task = registered().get(facts.task or "")
    tolerance = dict(task.evidence_tolerance) if task else {}
    skip = ("coverage",) if coverage_tolerance is not None else ()
    return evidence_failure(facts.run, tolerance, ignored, skip)


def against_champion(
    facts: RunFacts, held: RunFacts, mode: str, alias: str, version: str, coverage_tolerance: float | None
) -> tuple[bool, str]:
    """(promoted, why) for the candidate against version `version`, which holds the alias: only on the
    same data, split and metric, with no wider interval at the same promise, and with a better value."""
    metric, value, champion = facts.metric, facts.value, f"{alias} v{version}"
    if facts.digest != held.digest:
        return False, f"not comparable: dataset digest {facts.digest} differs from the {alias}'s {held.digest}"
    if facts.split != held.split:
        return False, f"not comparable: split {facts.split} differs from the {alias}'s {held.split}"
    if held.metric != metric:
        return False, f"not comparable: the {alias} logged {held.metric}, the candidate {metric}"
    if coverage_tolerance is not None and wider(facts.coverage, held.coverage, coverage_tolerance):
        cover, kept = facts.coverage, held.coverage
        return False, (
            f"{cover.size_metric} {cover.size:.4g} is wider than the {champion}'s {kept.size:.4g} "
            f"at the same level {cover.level:g}"
        )
    if better(mode, value, held.value):
        return True, f"{metric} {value:.4g} beats the {champion} ({held.value:.4g}; {direction_words(mode)})"
    return False, f"{metric} {value:.4g} does not beat the {champion} ({held.value:.4g}; {direction_words(mode)})"


def promote(
    client: MlflowClient,
    name: str,
    metric: str,
    minimum: float | None = None,
    maximum: float | None = None,
    alias: str = "champion",
    from_alias: str = "candidate",
    mode: str | None = None,
    coverage_tolerance: float | None = None,
    ignored: tuple[str, ...] = (),
) -> Decision:
    decision = decide(client, name, metric, minimum, maximum, alias, from_alias, mode, coverage_tolerance, ignored)
    if decision.promoted:
        client.set_registered_model_alias(name, alias, decision.candidate_version)
    metric = decision.metric
    tags = {
        f"promotion.{alias}.decision": "promoted" if decision.promoted else "rejected",
        f"promotion.{alias}.reason": decision.reason,
        f"promotion.{alias}.metric": f"{metric}={decision.candidate_value:.6g}",
        f"promotion.{alias}.previous": f"v{decision.champion_version} {metric}={decision.champion_value:.6g}"
        if decision.champion_version
        else "none",
        f"promotion.{alias}.test": metric_list(decision.candidate_test),
        f"promotion.{alias}.previous_test": metric_list(decision.champion_test)
        if decision.champion_version
        else "none",
        f"promotion.{alias}.coverage": decision.candidate_coverage.text() if decision.candidate_coverage else "none",
        f"promotion.{alias}.ignored_evidence": ",".join(ignored) or "none",
        f"promotion.{alias}.time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, decision.candidate_version, key, value)
    return decision


def wider(candidate: Coverage | None, champion: Coverage | None, tolerance: float) -> bool:
    """Whether the candidate's interval (set) is wider than a champion's that keeps the same promise."""
    if candidate is None or champion is None or champion.level != candidate.level or champion.misses(tolerance):
        return False
    return champion.size_metric == candidate.size_metric and candidate.size > champion.size


def metric_list(metrics: dict[str, float]) -> str:
    return ", ".join(f"{name}={value:.6g}" for name, value in metrics.items()) or "none"
