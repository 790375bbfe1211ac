"""The evidence a promotion reads (tracking/evidence.py logs it on every run): a candidate is refused,
by default, when its split leaks, when its validation RMSE on repeated groups is below the
repeat-scatter floor, when it is no better than its nearest-neighbour baseline on the validation
part, or when its coverage or ECE on the validation part is out of its task's tolerance. Each check
can be overridden by name (`--ignore-evidence CHECK`); the decision records which were.

MLflow's own `mlflow.validate_evaluation_results` compares a candidate's metrics with thresholds and
a baseline model's metrics; physml does not use it because its checks are not thresholds on one
metric: a leak is a property of the split, the floor and the baseline are scored on the run's own
rows with bootstrap intervals, and the tolerances widen with the part's size."""

from __future__ import annotations

import math

from physml.judging.uncertainty import coverage_of

CHECKS = ("leak", "floor", "baseline", "coverage", "ece")
PART = "val"  # the decision part: test evidence goes on the card only


def allowance(rows: float | None, level: float) -> float:
    """Sampling noise of a coverage measured on `rows` rows: 1.96 binomial standard errors."""
    return 1.96 * math.sqrt(level * (1 - level) / rows) if rows else 0.0


def leak(run, tolerance) -> str | None:
    found = run.data.tags.get("evidence.leak", "none")
    return None if found == "none" else f"the split leaks: {found}"


def floor(run, tolerance) -> str | None:
    if run.data.tags.get(f"evidence.below_floor.{PART}") != "true":
        return None
    metrics = run.data.metrics
    return (
        f"{PART}_repeated_rmse {metrics[f'{PART}_repeated_rmse']:.4g} (upper 95% bound "
        f"{metrics.get(f'{PART}_repeated_rmse_ci_high', float('nan')):.4g}) is below the repeat-scatter floor "
        f"{metrics['floor_rmse']:.4g}: a leak or a bug, since repeated measurements scatter that much"
    )


def baseline(run, tolerance) -> str | None:
    skill = run.data.metrics.get(f"{PART}_skill_over_knn")
    if skill is None or skill > 0:
        return None
    return f"{PART}_skill_over_knn = {skill:.4g}: no better than its nearest-neighbour baseline on the validation part"


def coverage(run, tolerance) -> str | None:
    """The interval or set coverage on the decision part, when logged, within the task's tolerance
    plus the sampling noise of the part's size."""
    cover = coverage_of(run, PART)
    if cover is None or "coverage" not in tolerance:
        return None
    limit = tolerance["coverage"] + allowance(run.data.metrics.get(f"{PART}_rows"), cover.level)
    if not cover.misses(limit):
        return None
    return f"{cover.coverage_metric} = {cover.coverage:.4g} misses its level {cover.level:g} by more than {limit:.3g}"


def ece(run, tolerance) -> str | None:
    value = run.data.metrics.get(f"{PART}_ece")
    if value is None or "ece" not in tolerance:
        return None
    rows = run.data.metrics.get(f"{PART}_rows")
    limit = tolerance["ece"] + (1 / math.sqrt(rows) if rows else 0.0)  # ECE's small-sample bias is about 1/sqrt(n)
    return None if value <= limit else f"{PART}_ece = {value:.4g} is above the task's tolerance {limit:.3g}"


def evidence_failure(
    run, tolerance: dict[str, float], ignored: tuple[str, ...] = (), skip: tuple[str, ...] = ()
) -> str | None:
    """The first failed check not in `ignored` (or `skip`: checks made elsewhere), as
    "evidence check NAME: why"; None when all pass."""
    for name in CHECKS:
        if name in ignored or name in skip:
            continue
        if (why := globals()[name](run, tolerance)) is not None:
            return f"evidence check '{name}' failed: {why} (override: --ignore-evidence {name})"
    return None
