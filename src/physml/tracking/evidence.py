"""Evidence on every run, from what the task declared (RunResult.evidence: its parts, group key,
strata, features): the split audit, the baselines, the repeat-scatter floor, MAE/MAD and metrics by
stratum, computed by the platform and logged as metrics, `evidence.*` tags and `evidence/evidence.json`.

Names: `floor_rmse` (and `floor_rows`, `floor_groups`, `floor_share`, `floor_r2_max`,
`floor_by_<strata>/<stratum>/<key>`); per part P: `P_dummy_<score>`, `P_knn_<score>`,
`P_skill_over_dummy`, `P_skill_over_knn` (with `_ci_low`, `_ci_high`), `P_repeated_rmse` (rows in a
repeated group, with its interval), `P_mad_ratio`, `P_trained_group_share`, `P_rows`; the test part's
strata as `test_by_<strata>/<stratum>/<key>`. Tags: `evidence.leak`, `evidence.below_floor.P`,
and `evidence.<check>` saying why a check could not run."""

from __future__ import annotations

import dataclasses

import mlflow
import numpy as np
import pandas as pd

from physml.evaluation import baselines
from physml.evaluation.calibration import expected_calibration_error
from physml.evaluation.floor import repeat_floor, repeated
from physml.evaluation.metrics import regression_metrics, stratified_metrics
from physml.evaluation.split_audit import audit
from physml.run_result import EvidencePart, RunEvidence

JUDGED = ("val", "test")  # the parts scored against baselines and the floor


def all_rows(parts: dict[str, EvidencePart], field: str):
    """`field` of every part, stacked; None when a part lacks it."""
    values = [getattr(part, field) for part in parts.values()]
    if any(value is None for value in values):
        return None
    return np.concatenate([np.asarray(value) for value in values])


def floor_evidence(evidence: RunEvidence) -> tuple[dict[str, float], dict[str, str]]:
    """The floor over every row of the run's parts, per declared stratum where every part has it."""
    if evidence.kind != "regression":
        return {}, {"evidence.floor": "not computable: the target is a class"}
    groups = all_rows(evidence.parts, "groups")
    if groups is None:
        return {}, {"evidence.floor": "not computable: the task declares no group key"}
    if not repeated(groups).any():
        return {}, {"evidence.floor": "not computable: no group repeats"}
    names = set.intersection(*(set(part.strata) for part in evidence.parts.values()))
    strata = {name: np.concatenate([np.asarray(p.strata[name]) for p in evidence.parts.values()]) for name in names}
    floor = repeat_floor(all_rows(evidence.parts, "y"), groups, strata)
    return {f"floor_{key}": value for key, value in floor.items()}, {"evidence.floor": "computed"}


def below_floor(evidence: RunEvidence, floor: dict[str, float]) -> tuple[dict[str, float], dict[str, str]]:
    """Each judged part's RMSE on rows of repeated groups, and whether its upper 95% bound is below the floor."""
    metrics, tags = {}, {}
    if "floor_rmse" not in floor:
        return metrics, {f"evidence.below_floor.{p}": "not computable" for p in JUDGED if p in evidence.parts}
    repeats = repeated(all_rows(evidence.parts, "groups"))
    start = 0
    for name, part in evidence.parts.items():
        inside = repeats[start : start + len(part.y)]
        start += len(part.y)
        if name not in JUDGED or inside.sum() < 2:
            continue
        y, predicted = np.asarray(part.y, dtype=float)[inside], np.asarray(part.predicted, dtype=float)[inside]
        scores = regression_metrics(y, predicted, f"{name}_", evidence.resamples, evidence.seed)
        high = scores.get(f"{name}_rmse_ci_high", scores[f"{name}_rmse"])
        metrics.update(
            {
                f"{name}_repeated_rmse{s}": scores[f"{name}_rmse{s}"]
                for s in ("", "_ci_low", "_ci_high")
                if f"{name}_rmse{s}" in scores
            }
        )
        metrics[f"{name}_repeated_rows"] = float(inside.sum())
        tags[f"evidence.below_floor.{name}"] = str(high < floor["floor_rmse"]).lower()
    return metrics, tags


def baseline_evidence(evidence: RunEvidence) -> tuple[dict[str, float], dict[str, str]]:
    """The dummy and the nearest-neighbour baseline on each judged part, and the model's skill over each."""
    train, kind = evidence.parts["train"], evidence.kind
    score_name, _ = baselines.SCORES[kind]
    fitted = {"dummy": baselines.dummy(kind, None, train.y)}
    tags = {}
    if train.features is None:
        tags["evidence.baseline.knn"] = "not computable: the task declares no features"
    else:
        fitted["knn"] = baselines.NearestNeighbour(kind).fit(train.features, train.y, train.groups)
    metrics = {}
    for name, part in evidence.parts.items():
        if name not in JUDGED:
            continue
        metrics[f"{name}_rows"] = float(len(part.y))
        for baseline, model in fitted.items():
            if baseline == "dummy":
                predicted = model.predict(np.zeros((len(part.y), 1)))
            else:
                predicted = model.predict(part.features, part.groups)
            metrics[f"{name}_{baseline}_{score_name}"] = baselines.score(kind, part.y, predicted)
            gain = baselines.skill(kind, part.y, part.predicted, predicted, evidence.resamples, evidence.seed)
            metrics.update({f"{name}_skill_over_{baseline}{suffix}": value for suffix, value in gain.items()})
        if kind == "regression":
            y = np.asarray(part.y, dtype=float)
            spread = float(np.mean(np.abs(y - y.mean())))
            error = float(np.mean(np.abs(y - np.asarray(part.predicted, dtype=float))))
            metrics[f"{name}_mad_ratio"] = error / spread if spread > 0 else float("nan")
    return metrics, tags


def audit_evidence(evidence: RunEvidence) -> tuple[dict[str, float], dict[str, str], dict]:
    found = audit(evidence.parts, evidence.grouped)
    metrics = {}
    for o in found.overlaps:
        for key in ("shared_ids", "identical_rows", "shared_groups", "trained_group_share"):
            value = getattr(o, key)
            if value is not None:
                metrics[f"{o.part}_{key}"] = float(value)
    leaks = found.leaks()
    tags = {"evidence.leak": "; ".join(leaks) if leaks else "none", "evidence.split": evidence.split}
    tags["evidence.grouped"] = str(evidence.grouped).lower()
    return metrics, tags, {"grouped": found.grouped, "overlaps": [dataclasses.asdict(o) for o in found.overlaps]}


def strata_metrics(evidence: RunEvidence) -> dict[str, float]:
    """The test part's metrics by each of its strata: RMSE, MAE and interval coverage and width
    (regression), or accuracy (classification)."""
    part = evidence.parts.get("test")
    metrics: dict[str, float] = {}
    if part is None:
        return metrics
    for name, labels in part.strata.items():
        if evidence.kind == "regression":
            bounds = (part.low, part.high) if part.low is not None else (part.predicted, part.predicted)
            table = stratified_metrics(part.y, part.predicted, *bounds, labels)
            keys = ["n", "rmse", "mae"] + (["coverage", "mean_width"] if part.low is not None else [])
        else:
            table = class_strata(part, labels)
            keys = [k for k in ("n", "accuracy", "ece") if k in table]
        for row in table.itertuples(index=False):
            metrics.update({f"test_by_{name}/{row.stratum}/{key}": float(getattr(row, key)) for key in keys})
    return metrics


def class_strata(part: EvidencePart, labels) -> pd.DataFrame:
    """Rows, accuracy and (with probabilities) the top class's ECE, per stratum, in the strata's order."""
    labels = pd.Series(labels)
    order = labels.cat.categories if isinstance(labels.dtype, pd.CategoricalDtype) else sorted(labels.unique())
    y, predicted = np.asarray(part.y), np.asarray(part.predicted)
    rows = []
    for stratum in order:
        inside = (labels == stratum).to_numpy()
        if not inside.any():
            continue
        row = {"stratum": stratum, "n": int(inside.sum()), "accuracy": float(np.mean(y[inside] == predicted[inside]))}
        if part.probabilities is not None:
            row["ece"] = expected_calibration_error(np.asarray(part.probabilities)[inside], y[inside])
        rows.append(row)
    return pd.DataFrame(rows)


def strata_frame(metrics: dict[str, float]) -> pd.DataFrame:
    """`test_by_<by>/<stratum>/<key>` metrics as one table: a row per (by, stratum), a column per key."""
    rows: dict[tuple[str, str], dict] = {}
    for name, value in metrics.items():
        by, stratum, key = name.split("/")
        rows.setdefault(
            (by.removeprefix("test_by_"), stratum), {"by": by.removeprefix("test_by_"), "stratum": stratum}
        )[key] = value
    return pd.DataFrame(list(rows.values()))


def log_evidence(evidence: RunEvidence) -> tuple[dict[str, float], dict[str, str]]:
    """Compute and log every check on the active run; returns the metrics and tags logged."""
    metrics, tags = {}, {}
    audited, audit_tags, overlaps = audit_evidence(evidence)
    for values, more in (
        (audited, audit_tags),
        baseline_evidence(evidence),
        floor_evidence(evidence),
    ):
        metrics.update(values)
        tags.update(more)
    floor_flags = below_floor(evidence, metrics)
    metrics.update(floor_flags[0])
    tags.update(floor_flags[1])
    metrics.update(strata_metrics(evidence))
    if strata := {k: v for k, v in metrics.items() if k.startswith("test_by_")}:
        mlflow.log_table(strata_frame(strata), "metrics/test_by_stratum.json")
    finite = {key: value for key, value in metrics.items() if np.isfinite(value)}
    mlflow.log_metrics(finite)
    mlflow.set_tags(tags)
    mlflow.log_dict({"metrics": metrics, "tags": tags, "audit": overlaps}, "evidence/evidence.json")
    return finite, tags
