"""What a search leaves on its parent run: one row per trial, the counts, the set-up, the plots."""

from __future__ import annotations

import json
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from physml.tracking.runs import log_figure
from physml.tuning import plots
from physml.tuning.importance import param_importances
from physml.tuning.options import SearchOptions
from physml.tuning.spaces import SearchSpec


def results_table(result_grid, spec: SearchSpec, epochs: int) -> pd.DataFrame:
    rows = []
    for result in result_grid:
        metrics = result.metrics or {}
        row = {key: result.config.get(key) for key in spec.space}
        row.update(
            {
                spec.metric: float(metrics.get(spec.metric, np.nan)),
                "diverged": int(metrics.get("diverged", 0)),
                "epochs_run": int(metrics.get("epoch", 0)),
                "error": result.error is not None,
                "mlflow_run_id": metrics.get("mlflow_run_id"),
                "trial_id": metrics.get("trial_id"),
                "finished_at": metrics.get("timestamp", 0),
            }
        )
        # stopped by the scheduler: fewer epochs than asked and no final report (a boosted model that its
        # own early stopping ended reports `completed`)
        stopped = not metrics.get("completed") and 0 < row["epochs_run"] < epochs
        row["early_stopped"] = int(not row["diverged"] and not row["error"] and stopped)
        rows.append(row)
    return pd.DataFrame(rows).sort_values("finished_at").reset_index(drop=True)


def log_search_plots(table: pd.DataFrame, spec: SearchSpec) -> None:
    params = list(spec.space)
    if spec.kind == "grid" and len(params) >= 2:
        x, y = (params[1], params[0])
        panel = params[2] if len(params) > 2 else None
        log_figure(plots.grid_heatmaps(table, x, y, panel, spec.metric, spec.mode), "search/grid_heatmap.png")
        return
    log_figure(plots.optimisation_history(table[spec.metric].to_numpy(), spec.metric, spec.mode), "search/history.png")
    log_figure(plots.parallel_coordinates(table, params, spec.metric, spec.mode), "search/parallel_coordinates.png")
    # under PBT a trial's values changed as it trained: importance over its final values would mislead
    importances = param_importances(table, spec) if spec.kind != "pbt" else {}
    if importances:
        mlflow.log_dict(importances, "search/importance.json")
        log_figure(plots.importance_bars(importances), "search/importance.png")


SEARCHER_NAMES = {
    "grid": "grid (BasicVariantGenerator)",
    "tpe": "OptunaSearch (TPE)",
    "gp": "BayesOptSearch (Gaussian process, UCB)",
    "pbt": "random starts (BasicVariantGenerator)",
}


def searcher_text(spec: SearchSpec) -> str:
    return SEARCHER_NAMES[spec.searcher if spec.kind == "bayes" else spec.kind]


def scheduler_text(spec: SearchSpec) -> str:
    if spec.kind == "pbt":
        return f"PopulationBasedTraining (perturbation_interval {spec.perturbation_interval})"
    return "none" if spec.kind == "grid" else f"ASHA {spec.asha or {}}"


def log_pbt_record(record: str | None) -> int:
    """Tune's PBT log (`pbt_global.txt`: one line per exploit, with the old and new configs) on the
    active parent run; returns how many perturbations it holds."""
    if not record:
        return 0
    lines = [line for line in record.splitlines() if line.strip()]
    mlflow.log_text("\n".join(lines) + "\n", "search/pbt_global.txt")
    return len(lines)


def log_search_summary(
    options: SearchOptions,
    spec: SearchSpec,
    fixed: dict[str, Any],
    table: pd.DataFrame,
    best_config: dict[str, Any],
    extra_metrics: dict[str, float],
) -> None:
    """On the active parent run: how the search was set up, every trial's row, counts, plots."""
    mlflow.log_params(
        {
            f"search.{key}": value
            for key, value in {
                "kind": options.kind,
                "metric": spec.metric,
                "mode": spec.mode,
                "searcher": searcher_text(spec),
                "scheduler": scheduler_text(spec),
                "num_trials": len(table),
                "max_concurrent": options.max_concurrent,
                "checkpoint_every": options.checkpoint_every,
                "cpus_per_trial": options.cpus_per_trial,
                "gpus_per_trial": options.gpus_per_trial,
                "address": options.address or "local",
                "fixed": json.dumps(fixed),
            }.items()
        }
    )  # prefixed: MLproject parameters of the same run use the plain names
    mlflow.log_dict(spec.space, "search/space.json")
    mlflow.log_dict(best_config, "search/best_config.json")
    mlflow.log_text(table.to_csv(index=False), "search/trials.csv")
    mlflow.log_metrics(
        {
            "n_trials": len(table),
            "n_diverged": int(table["diverged"].sum()),
            "n_early_stopped": int(table["early_stopped"].sum()),
            "n_errored": int(table["error"].sum()),
            **extra_metrics,
        }
    )
    mlflow.set_tag("best_config", json.dumps(best_config))
    log_search_plots(table, spec)
