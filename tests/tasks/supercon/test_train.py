"""Train the three supercon models through the CLI against a real MLflow server, then check what
the server returns: runs, params, metrics, artifacts that decode, registered versions, inputs."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.image as mpimg
import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from physml.cli import main

QUICK_EPOCHS = 3  # projects/supercon/config.yaml, preset quick


@pytest.fixture(scope="module")
def quick_runs(quick_training):
    """The session's `physml supercon train --preset quick` (every model; tests/tasks/conftest.py), by model."""
    return quick_training("supercon")


def test_one_finished_run_per_model(quick_runs):
    assert sorted(quick_runs) == ["dnn", "gbm", "linear"]
    assert {run.info.status for run in quick_runs.values()} == {"FINISHED"}


@pytest.mark.parametrize("model, r2_low, r2_high", [("linear", 0.65, 0.80), ("gbm", 0.80, 0.95), ("dnn", 0.55, 0.92)])
def test_test_metrics_are_sane(quick_runs, model, r2_low, r2_high):
    metrics = quick_runs[model].data.metrics
    assert r2_low < metrics["test_r2"] < r2_high
    assert metrics["test_r2_ci_low"] < metrics["test_r2"] < metrics["test_r2_ci_high"]
    assert metrics["test_rmse_ci_low"] < metrics["test_rmse"] < metrics["test_rmse_ci_high"]
    assert 0 < metrics["test_median_abs_error"] < metrics["test_mae"] < metrics["test_rmse"]
    assert metrics["test_mae"] < metrics["test_p90_abs_error"] < 60
    # the validation part (what searches and promotion decide on) is scored like the test part
    assert abs(metrics["val_rmse"] - metrics["test_rmse"]) < 0.25 * metrics["test_rmse"]
    if model != "dnn":  # the net's val_rmse is its last epoch's; its other val metrics are logged once
        assert r2_low - 0.05 < metrics["val_r2"] < r2_high + 0.05
    assert 0 < metrics["val_mae"] < metrics["val_rmse"]


def test_params_tags_and_dataset_input(quick_runs):
    run = quick_runs["dnn"]
    params = run.data.params
    assert params["feature_set"] == "all81" and params["split"] == "random" and params["seed"] == "42"
    assert params["n_features"] == "81" and int(params["n_test"]) == 6379
    # the validation part (2,233 rows) halved: 1,116 validate, 1,117 calibrate the conformal intervals
    assert int(params["n_val"]) == 1116 and int(params["n_calibration"]) == 1117
    assert int(params["n_train"]) == 21263 - 6379 - 2233 and params["val_fraction"] == "0.15"
    assert (params["layers"], params["units"], params["epochs"]) == ("3", "32", str(QUICK_EPOCHS))
    assert (run.data.tags["physml.version"] and len(run.data.tags["git_sha"]) in (40, 7)) or run.data.tags[
        "git_sha"
    ] == "unknown"
    assert run.data.tags["shap_explainer"] == "PermutationExplainer"
    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.dataset.name == "uci-superconductivity" and len(dataset_input.dataset.digest) >= 8


def test_dnn_logs_every_epoch(quick_runs, mlflow_server):
    client = MlflowClient(mlflow_server.url)
    for key in ("loss", "val_loss", "val_rmse"):
        history = client.get_metric_history(quick_runs["dnn"].info.run_id, key)
        assert [m.step for m in history] == list(range(1, QUICK_EPOCHS + 1))
    val_rmse = [m.value for m in client.get_metric_history(quick_runs["dnn"].info.run_id, "val_rmse")]
    assert val_rmse[-1] < val_rmse[0]


@pytest.mark.parametrize("model", ["gbm", "dnn"])  # the linear model's run can end within one interval
def test_runs_carry_system_metrics(quick_runs, mlflow_server, model):
    client = MlflowClient(mlflow_server.url)
    run = quick_runs[model]
    cpu = client.get_metric_history(run.info.run_id, "system/cpu_utilization_percentage")
    assert cpu and all(0 <= m.value <= 100 for m in cpu)
    assert sorted(m.step for m in cpu) == list(range(len(cpu)))
    assert 0 < run.data.metrics["system/system_memory_usage_percentage"] <= 100


def test_runs_carry_their_lineage(quick_runs, tracking, tmp_path):
    """The code, environment, config and data a run was made from (`physml reproduce` reads them)."""
    import yaml

    for run in quick_runs.values():
        tags = run.data.tags
        assert len(tags["git_sha"]) == 40 and tags["git_dirty"] in ("true", "false")
        assert len(tags["physml.env.hash"]) == 16 and tags["physml.env.source"] in (
            "pip-freeze",
            "lock:requirements.lock",
        )
        path = mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id, artifact_path="config.yaml", dst_path=str(tmp_path / run.info.run_id)
        )
        config = yaml.safe_load(Path(path).read_text())
        assert config["preset"] == "quick" and config["seed"] == int(run.data.params["seed"])
        assert len(run.inputs.dataset_inputs[0].dataset.digest) == 16  # physml's digest over every row


@pytest.mark.parametrize("model", ["linear", "gbm", "dnn"])
def test_plots_and_shap_are_pngs_that_decode(quick_runs, model, tracking, tmp_path):
    run_id = quick_runs[model].info.run_id
    expected = [
        "plots/predicted_vs_true.png",
        "plots/cumulative_abs_error.png",
        "plots/residual_vs_true.png",
        "shap/beeswarm.png",
        "shap/bar.png",
    ] + (["plots/training_curves.png"] if model == "dnn" else [])
    for artifact in expected:
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact, dst_path=str(tmp_path))
        image = mpimg.imread(local)
        assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 200, artifact
        assert image.std() > 0.01, f"{artifact} is blank"
    importance = mlflow.artifacts.load_text(f"runs:/{run_id}/shap/importance.json")
    assert "mean_abs_shap" in importance


def test_models_are_registered_with_aliases_and_predict(quick_runs, tracking, supercon_data):
    client = MlflowClient()
    for model in ("linear", "gbm", "dnn"):
        name = f"supercon-{model}"
        versions = client.search_model_versions(f"name='{name}'")
        run_versions = [v for v in versions if v.run_id == quick_runs[model].info.run_id]
        assert len(run_versions) == 1
        assert client.get_model_version_by_alias(name, "candidate").version == run_versions[0].version
        assert client.get_model_version_by_alias(name, "champion") is not None
    loaded = mlflow.pyfunc.load_model("models:/supercon-gbm@candidate")
    assert loaded.metadata.get_input_schema().input_names()[:2] == ["number_of_elements", "mean_atomic_mass"]
    predictions = loaded.predict(supercon_data.features.head(50))
    assert list(predictions.columns) == ["Tc", "Tc_low", "Tc_high", "interval_level"]
    assert abs(predictions["Tc"] - supercon_data.tc.head(50).to_numpy()).mean() < 20
    # the served interval is the run's: the calibrated quantile around the prediction, never below 0 K
    quantile = quick_runs["gbm"].data.metrics["interval_half_width"]
    expected_low = np.maximum(predictions["Tc"] - quantile, 0)
    assert np.allclose(predictions["Tc_high"] - predictions["Tc"], quantile)
    assert np.allclose(predictions["Tc_low"], expected_low) and (predictions["interval_level"] == 0.9).all()


@pytest.mark.parametrize("model", ["linear", "gbm", "dnn"])
def test_conformal_intervals_cover_the_test_part(quick_runs, model):
    """90% split-conformal intervals, calibrated on rows carved out of the validation part, hold
    90% +- 0.03 of the test part's true Tc (about 6,400 rows: sampling noise is ~0.004)."""
    run = quick_runs[model]
    metrics, params = run.data.metrics, run.data.params
    assert params["interval_level"] == "0.9" and int(params["n_calibration"]) > 1000
    assert abs(metrics["test_interval_coverage"] - 0.9) <= 0.03, metrics["test_interval_coverage"]
    assert 0 < metrics["test_interval_width"] <= 2 * metrics["interval_half_width"] + 1e-9
    assert metrics["test_interval_width"] < 4 * metrics["test_rmse"]  # informative, not the whole range
    # by Tc range and by family: every test row in one stratum of each; each coverage a share
    n_test = int(params["n_test"])
    for by, strata in (
        ("tc", ("below_10K", "10-77K", "77K_and_above")),
        ("family", ("cuprate", "iron-based", "other")),
    ):
        assert sum(metrics[f"test_by_{by}/{stratum}/n"] for stratum in strata) == n_test
        assert all(0 <= metrics[f"test_by_{by}/{stratum}/coverage"] <= 1 for stratum in strata)
    assert metrics["test_by_family/cuprate/n"] > 1000  # the data set's largest family


def test_logged_models_hold_no_pickle(quick_runs, tracking):
    """Each model is its parts in code-free formats (JSON, XGBoost JSON, .keras) behind MLflow's
    models-from-code loader: loading one runs physml's shipped source, not bytes from the store."""
    from pathlib import Path

    for model, part in (("linear", "parts.json"), ("gbm", "regressor.json"), ("dnn", "regressor.keras")):
        folder = Path(mlflow.artifacts.download_artifacts(f"models:/supercon-{model}@candidate"))
        names = [p.name for p in folder.rglob("*") if p.is_file()]
        assert not [n for n in names if n.endswith((".pkl", ".pickle"))], names
        assert part in names and "mlflow.pyfunc.loaders.code_model" in (folder / "MLmodel").read_text()
        needs = {line.split("==")[0] for line in (folder / "requirements.txt").read_text().split() if "==" in line}
        assert ("tensorflow-cpu" in needs) == (model == "dnn") and ("xgboost-cpu" in needs) == (model == "gbm"), needs


def test_predict_a_formula_from_the_command_line(quick_runs, tracking, supercon_dir, capsys):
    """Tc with its 90% interval, the data set's measured Tc for a composition it holds, how the formula was read."""
    run_id = quick_runs["gbm"].info.run_id
    formulas = ["--formula", "YBa2Cu3O7", "--formula", "MgB2", "--formula", "Nb3Ge"]
    code = main(["supercon", "predict", *formulas, "--model", f"runs:/{run_id}/model", "--data-dir", str(supercon_dir)])
    out = capsys.readouterr().out
    assert code == 0
    pattern = r"^(\S+)\tTc = ([\d.]+) K \[([\d.]+), ([\d.]+)\] \(90%\)\t(.+)\t\(read as (.+)\)$"
    lines = {formula: rest for formula, *rest in re.findall(pattern, out, re.MULTILINE)}
    tc, low, high, measured, read = lines["YBa2Cu3O7"]
    assert 40 < float(tc) < 130 and float(low) < float(tc) < float(high) and read == "Y1 Ba2 Cu3 O7"  # measured ~92 K
    assert measured.startswith("measured ") and "entries" in measured
    assert 5 < float(lines["MgB2"][0]) < 60  # measured 39 K
    assert set(lines) == {"YBa2Cu3O7", "MgB2", "Nb3Ge"}


def test_predict_from_a_local_model_starts_no_server(quick_runs, tracking, tmp_path, monkeypatch, capsys):
    """A model folder (a path or a file: URI) needs no tracking server: predict neither starts the
    embedded one nor asks any server, even with none running and none named."""
    import psutil

    from physml.tracking import server
    from physml.tracking.models import needs_tracking_server

    folder = mlflow.artifacts.download_artifacts(f"runs:/{quick_runs['gbm'].info.run_id}/model", dst_path=str(tmp_path))
    before = {child.pid for child in psutil.Process().children(recursive=True)}  # the session's server among them
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.setenv("PHYSML_HOME", str(tmp_path / "home"))

    def refuse(*args, **kwargs):
        raise AssertionError("predict from a local model started or looked for a tracking server")

    for name in ("start", "launch", "resolve_tracking_uri"):
        monkeypatch.setattr(server, name, refuse)
    mlflow.set_tracking_uri("http://127.0.0.1:9")  # nothing listens there: any request to a server fails
    try:
        for model in (folder, Path(folder).as_uri()):
            assert not needs_tracking_server(model)
            assert main(["supercon", "predict", "--formula", "MgB2", "--model", model]) == 0, capsys.readouterr().err
            assert re.search(r"^MgB2\tTc = [\d.]+ K \[[\d.]+, [\d.]+\] \(90%\)", capsys.readouterr().out, re.MULTILINE)
    finally:
        mlflow.set_tracking_uri(tracking)
    assert not (tmp_path / "home").exists()  # no server state, no log
    started = [
        " ".join(child.cmdline()) for child in psutil.Process().children(recursive=True) if child.pid not in before
    ]
    assert not [line for line in started if "mlflow" in line], started
    assert all(needs_tracking_server(uri) for uri in ("models:/m@champion", "runs:/r/model", "mlflow-artifacts:/1/m"))


def test_bad_formula_is_a_clear_error_before_any_model_loads(tracking, capsys):
    assert main(["supercon", "predict", "--formula", "Qq3", "--model", "models:/does-not-exist@champion"]) == 2
    assert "physml: error: formula 'Qq3': unknown element 'Qq'" in capsys.readouterr().err


def test_diverging_dnn_is_a_failed_run_tagged_diverged(tracking, supercon_dir):
    code = main(
        [
            "supercon",
            "train",
            "--model",
            "dnn",
            "--preset",
            "quick",
            "--optimizer",
            "sgd",
            "--learning-rate",
            "50",
            "--experiment",
            "test-diverged",
            "--no-register",
            "--data-dir",
            str(supercon_dir),
        ]
    )
    assert code == 3
    client = MlflowClient()
    (run,) = client.search_runs([client.get_experiment_by_name("test-diverged").experiment_id])
    assert run.info.status == "FAILED"
    assert run.data.tags["diverged"] == "true"
    assert run.data.params["learning_rate"] == "50.0"  # what was logged before the failure is kept
    assert "test_r2" not in run.data.metrics


def test_grouped_split_is_logged_and_harder(tracking, supercon_dir):
    code = main(
        [
            "supercon",
            "train",
            "--model",
            "linear",
            "--preset",
            "quick",
            "--split",
            "grouped",
            "--experiment",
            "test-grouped",
            "--no-register",
            "--data-dir",
            str(supercon_dir),
        ]
    )
    assert code == 0
    client = MlflowClient()
    (run,) = client.search_runs([client.get_experiment_by_name("test-grouped").experiment_id])
    assert run.data.params["split"] == "grouped"
    assert 0.5 < run.data.metrics["test_r2"] < 0.80


def test_family_split_tests_on_a_family_training_never_saw(tracking, supercon_dir, supercon_data):
    """`--split family`: every test row is a cuprate and no cuprate is trained, validated or
    calibrated on; the run says how far the model reaches and how its interval holds there."""
    from physml.tasks.supercon.data import families

    args = ["supercon", "train", "--model", "linear", "--preset", "quick", "--split", "family"]
    assert main([*args, "--experiment", "test-supercon-family", "--data-dir", str(supercon_dir)]) == 0
    run = mlflow.search_runs(experiment_names=["test-supercon-family"], output_format="list")[0]
    params, metrics = run.data.params, run.data.metrics
    cuprates = int((np.asarray(families(supercon_data.compositions)) == "cuprate").sum())
    assert params["split"] == "family" and params["holdout_family"] == "cuprate"
    assert int(params["n_test"]) == cuprates == metrics["test_by_family/cuprate/n"]
    assert int(params["n_train"]) + int(params["n_val"]) + int(params["n_calibration"]) + cuprates == len(
        supercon_data.tc
    )
    assert "test_by_family/other/n" not in metrics
    assert 0 <= metrics["test_interval_coverage"] <= 1 and np.isfinite(metrics["test_rmse"])


def test_every_run_has_a_report_with_its_logged_numbers_and_the_anchors(quick_runs, tracking):
    """report.md holds the run's own logged metrics (not a second computation), its interval, its
    strata, the published figures from projects/supercon/anchors.yaml beside its values, and its
    plots; report.html inlines the pictures."""
    from physml.tasks import registered

    anchors = registered()["supercon"].anchors()
    for model in ("linear", "gbm", "dnn"):
        run = quick_runs[model]
        metrics = run.data.metrics
        text = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/report.md")
        for name in ("test_r2", "test_rmse", "test_interval_coverage", "test_interval_width"):
            assert re.search(rf"^\| {name} \| {re.escape(f'{metrics[name]:.4g}')}( \[|\s\|)", text, re.MULTILINE), name
        low, high = metrics["test_rmse_ci_low"], metrics["test_rmse_ci_high"]
        assert f"[{low:.4g}, {high:.4g}]" in text and "## Uncertainty (interval_level 0.9)" in text
        assert f"| family | cuprate | {metrics['test_by_family/cuprate/n']:.4g} |" in text
        assert "![prediction_intervals](plots/prediction_intervals.png)" in text
        html = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/report.html")
        assert html.count("data:image/png;base64,") >= 4
    gbm_text = mlflow.artifacts.load_text(f"runs:/{quick_runs['gbm'].info.run_id}/report.md")
    hamidieh = next(a for a in anchors if a.source.startswith("Hamidieh") and a.metric == "test_rmse")
    assert (
        f"| {hamidieh.source} | test_rmse | {hamidieh.value:g} | {quick_runs['gbm'].data.metrics['test_rmse']:.4g} |"
        in gbm_text
    )
