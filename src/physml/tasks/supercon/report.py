"""What `physml supercon train` prints: one row per model, test metrics with their 95% intervals."""

from __future__ import annotations

from physml.display import text_table
from physml.tasks.base import RunResult


def interval(metrics: dict[str, float], key: str, digits: int) -> str:
    low, high = metrics.get(f"{key}_ci_low"), metrics.get(f"{key}_ci_high")
    value = f"{metrics[key]:.{digits}f}"
    return value if low is None else f"{value} [{low:.{digits}f}, {high:.{digits}f}]"


def results_table(results: list[RunResult]) -> str:
    columns = ["model", "test R² [95% CI]", "RMSE K [95% CI]", "MAE K", "p90 |err| K", "registered"]
    rows = []
    for result in results:
        if result.diverged:
            rows.append([result.model, "diverged", f"run {result.run_id}", None, None, "tag diverged=true"])
            continue
        m = result.metrics
        registered = f"{result.registered_name} v{result.registered_version}" if result.registered_name else "-"
        rows.append(
            [
                result.model,
                interval(m, "test_r2", 3),
                interval(m, "test_rmse", 2),
                round(m["test_mae"], 2),
                round(m["test_p90_abs_error"], 2),
                registered,
            ]
        )
    return text_table(columns, rows)
