"""A results table for the terminal, and where to look in the UI."""

from __future__ import annotations

import mlflow


def results_table(results) -> str:
    header = f"{'model':<7} {'test R² [95% CI]':<24} {'RMSE K [95% CI]':<22} {'MAE K':>6} {'p90 |err| K':>11}  registered"
    lines = [header, "-" * len(header)]
    for result in results:
        if result.diverged:
            lines.append(f"{result.model:<7} diverged (run {result.run_id}, tag diverged=true)")
            continue
        m = result.metrics
        r2 = f"{m['test_r2']:.3f} [{m.get('test_r2_ci_low', float('nan')):.3f}, {m.get('test_r2_ci_high', float('nan')):.3f}]"
        rmse = f"{m['test_rmse']:.2f} [{m.get('test_rmse_ci_low', float('nan')):.2f}, {m.get('test_rmse_ci_high', float('nan')):.2f}]"
        registered = f"{result.registered_name} v{result.registered_version}" if result.registered_name else "-"
        lines.append(f"{result.model:<7} {r2:<24} {rmse:<22} {m['test_mae']:>6.2f} {m['test_p90_abs_error']:>11.2f}  {registered}")
    return "\n".join(lines)


def print_results(results) -> None:
    print(results_table(results))
    uri = mlflow.get_tracking_uri()
    if uri.startswith("http") and results and results[0].run_id:
        experiment_id = mlflow.get_run(results[0].run_id).info.experiment_id
        print(f"\nMLflow UI: {uri}/#/experiments/{experiment_id}")
