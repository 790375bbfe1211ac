"""`physml <task> cv`: the task's outer folds, nested as Matbench's protocol asks.

For each outer fold k the test part is the rows of fold k and every choice is made on the other rows:
the validation part (early stopping) and the calibration part (conformal intervals, probability
calibration) are carved out of them, the threshold comes from them, and the test fold only scores.
One parent MLflow run holds the protocol: a child run per fold (a full run of the kind, scored on its
fold), the per-fold metric at step k, its mean and population std (Matbench's figures, under the
metric's own name so `compare --anchors` sets them beside the leaderboard's), and predictions.csv
(id, fold, target, prediction). Without a `folds` column the folds are seeded KFold
(StratifiedKFold for classification), as Matbench made its own.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold
from tqdm.auto import tqdm

from physml.run_result import RunResult
from physml.tasks.composition.split import fit_parts
from physml.tracking.lineage import log_config, log_environment
from physml.tracking.runs import standard_tags, task_run, with_evidence

PROTOCOL_SPLIT = "matbench-v0.1"  # what a task with official folds names its protocol (anchors' split)
SEEDED_FOLDS = 5


@dataclass
class CvResult:
    parent_run_id: str
    metric: str
    per_fold: list[float]
    predictions: pd.DataFrame
    folds: list[int]  # which outer fold each of per_fold scores

    @property
    def mean(self) -> float:
        return float(np.mean(self.per_fold))

    @property
    def std(self) -> float:
        return float(np.std(self.per_fold))  # population std (ddof=0), as Matbench reports


def outer_folds(task, data, seed: int) -> tuple[str, list[np.ndarray]]:
    """(the protocol's name, each fold's test rows): the data's fold column, or seeded (Stratified)KFold."""
    if data.folds is not None:
        folds = data.folds.to_numpy()
        return PROTOCOL_SPLIT, [np.flatnonzero(folds == k) for k in np.unique(folds)]
    splitter = (StratifiedKFold if task.spec.kind == "classification" else KFold)(
        SEEDED_FOLDS, shuffle=True, random_state=seed
    )
    rows = np.arange(len(data.target))
    return f"kfold{SEEDED_FOLDS}-seed{seed}", [test for _, test in splitter.split(rows, data.target)]


def fold_run(task, config, model: str, data, fold: int, test_rows: np.ndarray, protocol: str) -> RunResult:
    """One outer fold as a child run: fit on the other rows, score on `test_rows`."""
    fit_rows = np.setdiff1d(np.arange(len(data.target)), test_rows)
    parts = fit_parts(fit_rows, test_rows, "grouped", config.data, config.seed, data.groups)
    split = task.cut(config, data, parts, f"{protocol} fold {fold}")
    tags = {**standard_tags(task.name, model, config.preset), "cv.fold": str(fold), "cv.protocol": protocol}
    with task_run(config.experiment, f"{model}-fold{fold}", tags):
        log_config(config)
        log_environment()
        mlflow.log_param("cv.fold", fold)
        return with_evidence(task.train(config, model, data, split=split))


def run_cv(task, config, model: str, data, only: list[int] | None = None) -> CvResult:
    """The protocol under one parent run (module docstring); `only` runs just those folds (a smoke test)."""
    protocol, folds = outer_folds(task, data, config.seed)
    metric = task.spec.metric
    tags = {**standard_tags(task.name, model, config.preset), "cv.protocol": protocol}
    with task_run(config.experiment, f"cv-{model}", tags) as parent:
        log_config(config)
        params = {"model": model, "split": protocol, "cv.folds": len(folds), "seed": config.seed}
        params |= {"feature_set": config.data.feature_set, **config.model_params(model)}
        mlflow.log_params(params)
        results, frames = {}, []
        chosen = [k for k in range(len(folds)) if only is None or k in only]
        for k in tqdm(chosen, desc=f"{task.name} cv ({model})", unit="fold"):
            results[k] = fold_run(task, config, model, data, k, folds[k], protocol)
            mlflow.log_metric(f"fold_{metric}", results[k].metrics[f"test_{metric}"], step=k)
            frames.append(fold_predictions(data, k, folds[k], results[k]))
        predictions = pd.concat(frames, ignore_index=True)
        per_fold = [result.metrics[f"test_{metric}"] for result in results.values()]
        log_summary(task, results, predictions)
        return CvResult(parent.info.run_id, metric, per_fold, predictions, list(results))


def fold_predictions(data, fold: int, test_rows: np.ndarray, result: RunResult) -> pd.DataFrame:
    ids = data.ids.iloc[test_rows].to_numpy() if data.ids is not None else test_rows
    frame = pd.DataFrame({"id": ids, "fold": fold, "target": data.target.iloc[test_rows].to_numpy()})
    return pd.concat([frame, result.predictions.reset_index(drop=True)], axis=1)


def fold_means(task, results: dict[int, RunResult]) -> dict[str, tuple[float, float]]:
    """Each headline metric's (mean, population std) over the folds, by its name without `test_`."""
    summary = {}
    for key in task.headline:
        values = [result.metrics[key] for result in results.values() if key in result.metrics]
        if len(values) == len(results):
            summary[key.removeprefix("test_")] = (float(np.mean(values)), float(np.std(values)))
    return summary


def log_summary(task, results: dict[int, RunResult], predictions: pd.DataFrame) -> None:
    """The mean and population std over the folds of each headline metric (under its own name, so
    `compare --anchors` sets it beside the leaderboard's), pooled metrics, predictions.csv and report.md."""
    means = fold_means(task, results)
    for name, (mean, std) in means.items():
        mlflow.log_metrics({name: mean, f"{name}_std": std})
    pooled = pooled_metrics(task.spec.kind, predictions)
    mlflow.log_metrics({f"pooled_{key}": value for key, value in pooled.items()})
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "predictions.csv"
        predictions.rename(columns={"id": task.spec.id or "row"}).to_csv(path, index=False)
        mlflow.log_artifact(str(path))
    mlflow.log_text(cv_report(task, results, means) + interval_report(predictions), "report.md")


def cv_report(task, results: dict[int, RunResult], means: dict[str, tuple[float, float]]) -> str:
    """report.md: the per-fold figures, their mean ± std and the leaderboard's on the same metric."""
    from physml.display import markdown_table

    names = list(means)
    rows = [
        [f"fold {k}", *(f"{result.metrics[f'test_{name}']:.4f}" for name in names)] for k, result in results.items()
    ]
    rows.append(["mean ± std", *(f"{mean:.4f} ± {std:.4f}" for mean, std in means.values())])
    lines = [f"# {task.name}: {task.description}", "", markdown_table(["", *names], rows), ""]
    anchors = [a for a in task.anchors() if a.metric in means]
    if anchors:
        lines += ["## Published figures on the same protocol", ""]
        anchor_rows = [[a.source, a.metric, a.shown, f"{means[a.metric][0]:.4f}"] for a in anchors]
        lines.append(markdown_table(["source", "metric", "value", "physml"], anchor_rows))
    per_fold = {k: result.metrics[f"test_{task.spec.metric}"] for k, result in results.items()}
    if paired := paired_differences(task, per_fold):
        lines += ["", f"## Paired per fold: physml's {task.spec.metric} minus the entry's", ""]
        header = ["source", *(f"fold {k}" for k in per_fold), "mean", "physml better"]
        lines.append(markdown_table(header, [pair.row() for pair in paired]))
    return "\n".join(lines) + "\n"


@dataclass
class Paired:
    """physml's score minus a published entry's on the same folds."""

    source: str
    differences: list[float]
    better: int  # folds on which physml's score is the better one

    @property
    def mean(self) -> float:
        return float(np.mean(self.differences))

    def row(self) -> list[str]:
        return [
            self.source,
            *(f"{d:+.4f}" for d in self.differences),
            f"{self.mean:+.4f}",
            f"{self.better}/{len(self.differences)}",
        ]


def paired_differences(task, per_fold: dict[int, float]) -> list[Paired]:
    """Against each anchor with per-fold scores on the task's protocol (anchors.yaml `folds`), on the folds run."""
    lower = task.metric_mode(task.spec.metric) == "min"
    paired = []
    for anchor in task.anchors():
        if anchor.metric != task.spec.metric or not anchor.folds or anchor.split != PROTOCOL_SPLIT:
            continue
        differences = [score - anchor.folds[k] for k, score in per_fold.items() if k < len(anchor.folds)]
        better = sum((d < 0) if lower else (d > 0) for d in differences)
        paired.append(Paired(anchor.source, differences, better))
    return paired


def interval_report(predictions: pd.DataFrame) -> str:
    """The intervals pooled over the folds, per stratum where they were stratified: rows, coverage, width."""
    from physml.display import markdown_table

    if "low" not in predictions:
        return ""
    frame = predictions.assign(
        inside=(predictions["target"] >= predictions["low"]) & (predictions["target"] <= predictions["high"]),
        width=predictions["high"] - predictions["low"],
    )
    groups = [("all rows", frame), ("non-zero targets", frame[frame["target"] != 0])]
    if "interval_stratum" in frame:
        groups += [(f"P(non-zero) {name[1:]}", rows) for name, rows in frame.groupby("interval_stratum", sort=True)]
    rows = [
        [name, len(part), f"{part['inside'].mean():.3f}", f"{part['width'].mean():.3f}"]
        for name, part in groups
        if len(part)
    ]
    table = markdown_table(["rows", "n", "coverage", "mean width"], rows)
    return f"\n## Intervals pooled over the folds\n\n{table}\n"


def pooled_metrics(kind: str, predictions: pd.DataFrame) -> dict[str, float]:
    """Metrics over every fold's predictions at once (beside the per-fold mean)."""
    from sklearn.metrics import balanced_accuracy_score, mean_absolute_error, roc_auc_score

    y, predicted = predictions["target"], predictions["prediction"]
    if kind == "classification":
        values = {"balanced_accuracy": balanced_accuracy_score(y, predicted)}
        if y.nunique() == 2:
            values["roc_auc"] = roc_auc_score(y, predictions["probability"])
        return {key: float(value) for key, value in values.items()}
    values = {"mae": float(mean_absolute_error(y, predicted))}
    if "low" in predictions:  # the conformal intervals pooled over the folds, and on the non-zero rows
        inside = (y >= predictions["low"]) & (y <= predictions["high"])
        values |= {
            "interval_coverage": float(inside.mean()),
            "interval_width": float((predictions["high"] - predictions["low"]).mean()),
        }
        if (y == 0).any() and (y != 0).any():
            values["interval_coverage_nonzero"] = float(inside[y != 0].mean())
    return values
