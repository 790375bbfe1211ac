"""`physml compare` on runs trained for real on the test server: the ranking, the table artifact,
the figure (a PNG that decodes) and the comparison run that carries them."""

from pathlib import Path

import matplotlib.image
from mlflow import MlflowClient

from physml.cli import main

EXPERIMENT = "test-compare"


def train(supercon_dir, model: str, *args: str) -> None:
    code = main(
        [
            "supercon",
            "train",
            "--model",
            model,
            "--preset",
            "quick",
            "--experiment",
            EXPERIMENT,
            "--set",
            "evaluation.explain=false",
            "--set",
            "evaluation.plots=false",  # compare reads metrics only
            "--set",
            "registry.log_model=false",
            "--set",
            "registry.register=false",
            "--data-dir",
            str(supercon_dir),
            *args,
        ]
    )
    assert code == 0


def test_compare_ranks_logs_a_table_and_a_figure(tracking, supercon_dir, capsys):
    train(supercon_dir, "linear", "--feature-set", "seed17")
    train(supercon_dir, "linear")
    train(supercon_dir, "gbm")
    client = MlflowClient()
    runs = {r.info.run_id: r for r in client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])}
    by_rmse = sorted(runs.values(), key=lambda r: r.data.metrics["test_rmse"])
    capsys.readouterr()

    assert main(["compare", EXPERIMENT, "--metric", "test_rmse", "--top", "2"]) == 0
    out = capsys.readouterr().out
    table_lines = out.splitlines()[2:4]
    assert [line.split()[-1] for line in table_lines] == [r.info.run_id for r in by_rmse[:2]]  # lower RMSE first
    assert "feature_set" in out.splitlines()[0] or "model" in out.splitlines()[0]  # the params that differ

    (comparison,) = client.search_runs(
        [by_rmse[0].info.experiment_id], filter_string="tags.`physml.kind` = 'comparison'"
    )
    assert comparison.data.tags["physml.compared_runs"] == ",".join(r.info.run_id for r in by_rmse[:2])
    assert comparison.data.metrics["best_test_rmse"] == by_rmse[0].data.metrics["test_rmse"]
    markdown = Path(client.download_artifacts(comparison.info.run_id, "comparison/table.md")).read_text()
    assert markdown.startswith(f"# {EXPERIMENT}: top 2 runs by test_rmse (lower is better)")
    assert markdown.index(by_rmse[0].info.run_id) < markdown.index(by_rmse[1].info.run_id)
    image = matplotlib.image.imread(client.download_artifacts(comparison.info.run_id, "comparison/comparison.png"))
    assert image.shape[0] > 300 and image.shape[1] > 500 and image.std() > 0.01

    # a second comparison never ranks the first one, and higher-is-better metrics sort the other way
    assert main(["compare", EXPERIMENT, "--metric", "test_r2", "--no-log"]) == 0
    rows = capsys.readouterr().out.splitlines()[2:]
    assert len(rows) == 3 and rows[0].split()[-1] == by_rmse[0].info.run_id


def test_compare_errors_name_what_is_missing(tracking, capsys):
    assert main(["compare", "no-such-experiment"]) == 2
    assert "no experiment named 'no-such-experiment'" in capsys.readouterr().err
    MlflowClient().create_experiment("empty-for-compare")
    assert main(["compare", "empty-for-compare", "--metric", "test_r2"]) == 2
    assert "no finished run in 'empty-for-compare' has the metric 'test_r2'" in capsys.readouterr().err


def test_compare_over_seeds_groups_what_only_the_seed_tells_apart(tracking, capsys):
    """Runs logged for the purpose (no training): two models x three seeds, each seed with its own
    split digest. --over seed groups them by model (the digest goes with the seed), best mean first,
    with the mean, the spread and the t-interval of the mean from the logged values."""
    import mlflow
    import numpy as np
    from scipy import stats

    rmse = {"gbm": [9.4, 9.7, 9.5], "linear": [17.8, 18.1, 17.9]}
    for model, values in rmse.items():
        for seed, value in enumerate(values):
            mlflow.set_experiment("test-compare-seeds")
            with mlflow.start_run(tags={"task": "supercon"}):
                mlflow.log_params({"model": model, "seed": seed, "split_digest": f"d{seed}", "split": "random"})
                mlflow.log_metrics({"test_rmse": value, "test_r2": 1 - value / 100})
    capsys.readouterr()
    assert main(["compare", "test-compare-seeds", "--metric", "test_rmse", "--over", "seed"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["model", "seeds"] and "split_digest" not in lines[0]
    gbm, linear = lines[2], lines[3]  # lower RMSE first
    assert gbm.startswith("gbm") and linear.startswith("linear") and "0,1,2" in gbm
    values = np.array(rmse["gbm"])
    half = stats.t.ppf(0.975, 2) * values.std(ddof=1) / np.sqrt(3)
    assert (
        f"{values.mean():.4g} ± {values.std(ddof=1):.2g} [{values.mean() - half:.4g}, {values.mean() + half:.4g}]"
        in gbm
    )
    client = MlflowClient()
    experiment = client.get_experiment_by_name("test-compare-seeds").experiment_id
    (comparison,) = client.search_runs([experiment], filter_string="tags.`physml.kind` = 'comparison'")
    table = Path(client.download_artifacts(comparison.info.run_id, "comparison/seeds.md")).read_text()
    assert (
        table.startswith("# test-compare-seeds: test_rmse over seeds (lower is better)") and "| gbm | 0,1,2 |" in table
    )

    # --anchors: the task's published figures (projects/supercon/anchors.yaml) beside the best group
    capsys.readouterr()
    assert (
        main(["compare", "test-compare-seeds", "--metric", "test_rmse", "--over", "seed", "--anchors", "--no-log"]) == 0
    )
    out = capsys.readouterr().out
    hamidieh = [line for line in out.splitlines() if line.startswith("Hamidieh 2018") and "test_rmse" in line]
    assert len(hamidieh) == 1 and " 9.5 " in hamidieh[0] and f"{values.mean():.4g} [" in hamidieh[0]
    assert "model=gbm" in hamidieh[0]  # the anchor is XGBoost's: matched to the gbm group, not the best overall
    r2_anchor = next(line for line in out.splitlines() if line.startswith("Stanev") and "test_r2" in line)
    assert "model=gbm" in r2_anchor  # any model: the best group by R² (higher is better)
