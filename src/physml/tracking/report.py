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
    if results:
        print_ui_link(results[0].run_id)


def ui_link(uri: str, experiment_id: str, run_id: str | None = None) -> str:
    """A link into the MLflow UI; MLflow 3's UI opens on its GenAI pages unless told the workflow."""
    page = f"runs/{run_id}" if run_id else "runs"
    return f"{uri}/#/experiments/{experiment_id}/{page}?workflowType=machine_learning"


def print_ui_link(run_id: str | None) -> None:
    uri = mlflow.get_tracking_uri()
    if uri.startswith("http") and run_id:
        experiment_id = mlflow.get_run(run_id).info.experiment_id
        print(f"\nMLflow UI: {ui_link(uri, experiment_id, run_id)}")


def galaxy_summary(result) -> str:
    if result.diverged:
        return f"cnn diverged (run {result.run_id}, tag diverged=true)"
    m = result.metrics
    lines = [
        (f"test accuracy      {m['test_accuracy']:.3f}  (majority class {m['test_majority_rate']:.3f}; "
        f"8-view TTA {m['test_tta_accuracy']:.3f}; top-2 {m['test_top2_accuracy']:.3f})"),
        f"macro-F1           {m['test_macro_f1']:.3f}",
        (f"review list        {m['test_review_fraction']:.1%} of test galaxies; accuracy on the rest "
        f"{m['test_confident_accuracy']:.3f}"),
    ]
    if "test_rmse" in m:
        lines.insert(0, f"test RMSE (37 vote fractions, Kaggle metric) {m['test_rmse']:.4f}")
    if result.registered_name:
        lines.append(f"registered         {result.registered_name} v{result.registered_version}")
    return "\n".join(lines)
