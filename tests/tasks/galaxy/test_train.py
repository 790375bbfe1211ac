"""`physml galaxy train` against a real MLflow server; every logged artifact must exist and decode."""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import matplotlib.image as mpimg
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from physml.cli import main
from physml.evaluation.calibration import Calibration
from physml.tasks.galaxy.gz2_tree import GZ2
from tests.helpers.processes import mlflow_run_project
from tests.helpers.tasks import version_of

QUICK_EPOCHS = 2
ARTIFACTS = [
    "data/class_counts.png",
    "plots/training_curves.png",
    "plots/confusion_counts.png",
    "plots/confusion_normalised.png",
    "plots/reliability.png",
    "review/least_confident.png",
    "review/accuracy_vs_review_fraction.png",
    "network/activation_maps_conv1.png",
    "network/filters_conv1.png",
    "network/filters_conv3.png",
]


def run_cli(server_url: str, *args: str) -> int:
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = server_url
    try:
        return main(["galaxy", "train", *args])
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI")
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous


def only_run(server_url: str, experiment: str):
    client = MlflowClient(server_url)
    (run,) = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    return run


@pytest.fixture(scope="module")
def quick_run(quick_training):
    """The session's `physml galaxy train --preset quick` (tests/tasks/conftest.py)."""
    return quick_training("galaxy")["cnn"]


def test_run_finished_with_params_and_epoch_metrics(quick_run, mlflow_server):
    assert quick_run.info.status == "FINISHED"
    params = quick_run.data.params
    assert params["data.target"] == "classes4" and params["classes"] == "elliptical,spiral,barred_spiral,edge_on"
    assert params["model.kernel_sizes"] == "[5, 3, 3]" and params["train.focal_gamma"] == "2.0"
    assert len(params["focal_alpha"].split(",")) == 4
    client = MlflowClient(mlflow_server.url)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "top2"):
        assert [m.step for m in client.get_metric_history(quick_run.info.run_id, key)] == [1, 2]
    (dataset_input,) = quick_run.inputs.dataset_inputs
    assert dataset_input.dataset.name == "galaxy-zoo-training"


def test_test_metrics(quick_run):
    m = quick_run.data.metrics
    for key in (
        "test_accuracy",
        "test_macro_f1",
        "test_top2_accuracy",
        "test_tta_accuracy",
        "test_majority_rate",
        "test_review_fraction",
        "test_ece",
        "test_recall_spiral",
        "test_precision_edge_on",
    ):
        assert 0 <= m[key] <= 1, key
    assert m["test_top2_accuracy"] >= m["test_accuracy"]
    assert m["best_epoch"] in (1, 2) and m["skipped_images"] == 0
    assert m["train_images_per_second"] > 10


def test_the_run_report_reads_the_logged_metrics(quick_run, tracking):
    text = mlflow.artifacts.load_text(f"runs:/{quick_run.info.run_id}/report.md")
    accuracy = quick_run.data.metrics["test_accuracy"]
    assert text.startswith("# galaxy cnn: run ") and f"| test_accuracy | {accuracy:.4g}" in text
    assert "## Plots" in text and "(plots/confusion_normalised.png)" in text
    m = quick_run.data.metrics
    assert "## Uncertainty (set_level 0.9)" in text
    for name in ("test_set_coverage", "test_set_size", "test_ece", "test_ece_before_scaling", "test_review_fraction"):
        assert f"| {name} | {m[name]:.4g}" in text, name
    change = m["test_ece_change"], m["test_ece_change_ci_low"], m["test_ece_change_ci_high"]
    assert "| test_ece_change | {:.4g} [{:.4g}, {:.4g}] |".format(*change) in text
    n, accuracy = m["test_by_agreement/at_least_0.8/n"], m["test_by_agreement/at_least_0.8/accuracy"]
    assert f"| agreement | at_least_0.8 | {n:.4g} | {accuracy:.4g} |" in text


@pytest.mark.parametrize("artifact", ARTIFACTS)
def test_artifacts_are_pngs_that_decode(quick_run, tracking, tmp_path, artifact):
    local = mlflow.artifacts.download_artifacts(
        run_id=quick_run.info.run_id, artifact_path=artifact, dst_path=str(tmp_path)
    )
    image = mpimg.imread(local)
    assert image.ndim == 3 and min(image.shape[:2]) > 150
    assert image.std() > 0.01, f"{artifact} is blank"


def test_review_list_holds_the_galaxies_whose_set_is_not_one_class(quick_run, tracking):
    text = mlflow.artifacts.load_text(f"runs:/{quick_run.info.run_id}/review/review.csv")
    review = pd.read_csv(io.StringIO(text), keep_default_na=False)  # an empty set is ""
    assert list(review.columns) == [
        "GalaxyID",
        "top_class",
        "top_probability",
        "second_class",
        "second_probability",
        "margin",
        "true_class",
        "prediction_set",
        "set_size",
    ]
    m, n_test = quick_run.data.metrics, int(quick_run.data.params["n_test"])
    assert quick_run.data.params["review_rule"] == "set"
    assert (
        len(review)
        == round(m["test_review_fraction"] * n_test)
        == round((1 - m["test_set_singleton_fraction"]) * n_test)
    )
    assert (review["set_size"] != 1).all()
    sizes = [len(s.split("|")) if s else 0 for s in review["prediction_set"]]
    assert sizes == list(review["set_size"])
    np.testing.assert_allclose(review["margin"], review["top_probability"] - review["second_probability"], atol=1e-6)


def test_calibration_and_sets_are_logged(quick_run):
    m, params = quick_run.data.metrics, quick_run.data.params
    assert params["calibration"] == "matrix" and params["set_level"] == "0.9" and params["set_score"] == "lac"
    assert int(params["n_calibration"]) > 20 and int(params["n_val"]) > 20
    assert 0 <= m["test_ece"] <= 1 and 0 <= m["test_ece_before_scaling"] <= 1 and 0 <= m["test_raw_accuracy"] <= 1
    assert m["test_ece_change_ci_low"] <= m["test_ece_change"] <= m["test_ece_change_ci_high"]
    assert m["test_ece_change"] == pytest.approx(m["test_ece"] - m["test_ece_before_scaling"])
    for part in ("val", "test"):
        assert 0 <= m[f"{part}_set_coverage"] <= 1 and 0 <= m[f"{part}_set_empty_fraction"] <= 1
        assert 0 <= m[f"{part}_set_size"] <= 4
    assert 0 <= m["test_dihedral_consistency"] <= 1
    counts = [m[f"test_by_agreement/at_least_{least}/n"] for least in ("0.5", "0.8", "0.9")]
    assert int(params["n_test"]) >= counts[0] >= counts[1] >= counts[2] >= 0  # stricter agreement, fewer galaxies
    # the platform's strata (tracking/evidence.py): every test galaxy in one vote-agreement bin, each
    # bin with its accuracy and its top class's ECE
    bins = {name.split("/")[1] for name in m if name.startswith("test_by_vote_agreement/")}
    assert sum(m[f"test_by_vote_agreement/{b}/n"] for b in bins) == int(params["n_test"])
    for b in bins:
        assert 0 <= m[f"test_by_vote_agreement/{b}/accuracy"] <= 1 and 0 <= m[f"test_by_vote_agreement/{b}/ece"] <= 1


def test_model_is_registered_and_predicts_calibrated_probabilities(quick_run, tracking, galaxy_dir):
    import keras

    client = MlflowClient()
    version = version_of(client, quick_run.info.run_id)
    assert version.name == "galaxy-cnn"
    folder = Path(mlflow.artifacts.download_artifacts(f"models:/galaxy-cnn/{version.version}"))
    names = [p.name for p in folder.rglob("*") if p.is_file()]
    assert "cnn.keras" in names and not [n for n in names if n.endswith((".pkl", ".pickle"))], names
    model = mlflow.pyfunc.load_model(f"models:/galaxy-cnn/{version.version}")
    for side in (424, 60):  # a JPEG's pixels as they come, or already cropped as in evaluation
        images = np.random.default_rng(0).integers(0, 256, size=(3, side, side, 3), dtype=np.uint8)
        probs = np.asarray(model.predict(images))
        assert probs.shape == (3, 4)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    # the probabilities are the net's, calibrated as the run calibrated them (matrix scaling)
    net = keras.models.load_model(next(folder.rglob("cnn.keras")))
    calibration = Calibration(**json.loads(next(folder.rglob("calibration.json")).read_text()))
    assert calibration.method == "matrix" and calibration.n_calibration == int(quick_run.data.params["n_calibration"])
    raw = np.asarray(net.predict(images.astype("float32"), verbose=0))
    np.testing.assert_allclose(probs, calibration.apply(raw), atol=1e-6)
    assert np.abs(probs - raw).max() > 1e-3
    with pytest.raises(MlflowException, match=r"takes \(N, 424, 424, 3\) uint8 .* got shape \(1, 100, 100, 3\)"):
        model.predict(np.zeros((1, 100, 100, 3), np.uint8))


def test_served_model_takes_a_kaggle_jpeg_as_it_comes(quick_run, tracking, galaxy_dir, tmp_path):
    """`mlflow models serve` on the registered CNN, started for real: a JPEG's pixels from the shared
    data, posted as PIL decodes them (424x424x3 uint8), get the probabilities of the training code's
    evaluation path (decode, crop, resize and crop, the Keras net, the run's calibration) on the same file."""
    import keras
    import requests
    from PIL import Image

    from physml.tasks import get_task
    from physml.tasks.galaxy.images import centre_crop, decoded_images
    from tests.helpers.processes import served_model

    config = get_task("galaxy").load_config(preset="quick").data
    version = version_of(MlflowClient(), quick_run.info.run_id).version
    folder = Path(mlflow.artifacts.download_artifacts(f"models:/galaxy-cnn/{version}", dst_path=str(tmp_path)))
    jpeg = max((galaxy_dir / "images_training_rev1").glob("*.jpg"))  # beyond the quick preset's 600: unseen
    with Image.open(jpeg) as image:
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.shape == (424, 424, 3) and pixels.dtype == np.uint8
    shrunk = decoded_images([jpeg], config.crop, config.size, cache_dir=tmp_path / "cache", progress=False)
    net = keras.models.load_model(next(folder.rglob("cnn.keras")))
    calibration = Calibration(**json.loads(next(folder.rglob("calibration.json")).read_text()))
    expected = calibration.apply(net.predict(centre_crop(shrunk, config.input_size).astype("float32"), verbose=0))
    with served_model(f"models:/galaxy-cnn/{version}", tracking, tmp_path / "serve.log") as url:
        response = requests.post(f"{url}/invocations", json={"inputs": pixels[np.newaxis].tolist()}, timeout=120)
        assert response.status_code == 200, response.text[:2000]
        refused = requests.post(f"{url}/invocations", json={"inputs": pixels[np.newaxis, :100, :100].tolist()})
    (probs,) = np.asarray(response.json()["predictions"], dtype=float)
    print(f"max |REST - evaluation path| = {np.abs(probs - expected[0]).max():.3g}")
    np.testing.assert_allclose(probs, expected[0], rtol=0, atol=1e-4)
    assert abs(probs.sum() - 1) < 1e-5
    assert refused.status_code == 400 and "got shape (1, 100, 100, 3)" in refused.text, refused.text[:2000]


def test_corrupt_images_are_skipped_and_counted(mlflow_server, galaxy_dir, tmp_path):
    folder = tmp_path / "galaxy_zoo"
    (folder / "images_training_rev1").mkdir(parents=True)
    labels = pd.read_csv(galaxy_dir / "training_solutions_rev1.csv", nrows=400, dtype=str, keep_default_na=False)
    labels.to_csv(folder / "training_solutions_rev1.csv", index=False)
    for galaxy_id in labels["GalaxyID"]:
        shutil.copy(galaxy_dir / "images_training_rev1" / f"{galaxy_id}.jpg", folder / "images_training_rev1")
    bad = folder / "images_training_rev1" / f"{labels['GalaxyID'][5]}.jpg"
    bad.write_bytes(bad.read_bytes()[:2000])
    args = ["--preset", "quick", "--experiment", "test-galaxy-skip", "--data-dir", str(folder), "--no-register"]
    args += ["--set", "evaluation.network_views=false", "--set", "registry.log_model=false"]
    assert run_cli(mlflow_server.url, *args) == 2  # default: stop, naming the file, before any run
    assert MlflowClient(mlflow_server.url).get_experiment_by_name("test-galaxy-skip") is None
    assert run_cli(mlflow_server.url, *args, "--skip-bad-images") == 0
    run = only_run(mlflow_server.url, "test-galaxy-skip")
    assert run.data.metrics["skipped_images"] == 1
    skipped = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/data/skipped_images.txt")
    assert skipped.startswith(f"{bad.name}: is truncated")


def test_regression_seed_ensemble_reports_the_kaggle_rmse(mlflow_server, galaxy_dir):
    """The 37 vote fractions from a 2-member seed ensemble with the decision tree's output layer: each
    member logs its own curves and test RMSE, the model is their mean (so its squared error is at most
    the members' mean, by convexity), and the logged model loads as one .keras file whose output is
    that mean and sums as the tree says."""
    import keras

    from physml.tasks.galaxy.cnn import member_nets

    args = [
        "--preset",
        "quick",
        "--target",
        "regression",
        "--set",
        "train.members=2",
        "--set",
        "model.tree_output=true",
    ]
    args += ["--experiment", "test-galaxy-regression", "--data-dir", str(galaxy_dir), "--no-register"]
    assert run_cli(mlflow_server.url, *args) == 0
    run = only_run(mlflow_server.url, "test-galaxy-regression")
    metrics = run.data.metrics
    assert 0.05 < metrics["test_rmse"] < 0.4
    assert 0 <= metrics["test_accuracy"] <= 1 and "test_recall_other" in metrics
    members = [metrics[f"member{k}/test_rmse"] for k in (1, 2)]
    assert members[0] != members[1]  # different seeds, different nets
    assert metrics["test_rmse"] ** 2 <= np.mean(np.square(members)) + 1e-9
    assert {"member1/val_rmse", "member2/val_rmse", "best_val_rmse", "fit_seconds"} <= set(metrics)
    client = MlflowClient(mlflow_server.url)
    assert len(client.get_metric_history(run.info.run_id, "member2/val_rmse")) == QUICK_EPOCHS
    assert run.data.params["train.members"] == "2"

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(mlflow_server.url)
    try:
        folder = Path(mlflow.artifacts.download_artifacts(f"runs:/{run.info.run_id}/model"))
        served = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
        votes_csv = mlflow.artifacts.download_artifacts(f"runs:/{run.info.run_id}/predictions/test_votes.csv")
    finally:
        mlflow.set_tracking_uri(previous)
    # the test part's predicted fractions in Kaggle's submission layout, scored against the labels file
    test_votes = pd.read_csv(votes_csv)
    assert list(test_votes.columns) == ["GalaxyID"] + GZ2.columns and test_votes["GalaxyID"].is_monotonic_increasing
    truth = pd.read_csv(galaxy_dir / "training_solutions_rev1.csv", index_col="GalaxyID").loc[test_votes["GalaxyID"]]
    assert len(test_votes) == 90  # 15% of the quick preset's 600 galaxies
    scored = np.sqrt(np.mean(np.square(test_votes[GZ2.columns].to_numpy() - truth[GZ2.columns].to_numpy())))
    assert abs(scored - metrics["test_rmse"]) < 1e-5
    net = keras.models.load_model(next(folder.rglob("cnn.keras")))
    nets = member_nets(net)
    assert [n.name for n in nets] == ["galaxy_cnn_member1", "galaxy_cnn_member2"]
    images = np.random.default_rng(0).integers(0, 256, size=(2, 60, 60, 3), dtype=np.uint8)
    mean = np.mean([n.predict(images.astype("float32"), verbose=0) for n in nets], axis=0)
    predicted = np.asarray(served.predict(images))
    np.testing.assert_allclose(predicted, mean, atol=1e-6)
    # the members' tree output layer: every question's answers sum to what leads to it, so their mean does too
    votes = pd.DataFrame(predicted, columns=GZ2.columns)
    np.testing.assert_allclose(GZ2.question_totals(votes), GZ2.expected_totals(votes), atol=1e-5)


def test_mlflow_run_galaxy_entry_point(mlflow_server, galaxy_dir):
    params = {"preset": "quick", "epochs": 1, "data_dir": galaxy_dir}
    _, (child,) = mlflow_run_project(mlflow_server.url, "galaxy", params, "test-galaxy-project")
    assert child.info.status == "FINISHED" and child.data.params["train.epochs"] == "1"
    assert "test_accuracy" in child.data.metrics


def test_checkpointed_cnn_continues_with_its_best_so_far(tracking, galaxy_dir):
    """What a Tune trial of the CNN saves each epoch (the net, its optimiser, the best net so far)
    lets a restarted one go on from there: the history continues and the best epoch is kept."""
    from physml.models.checkpoints import Checkpoints
    from physml.tasks import get_task
    from physml.tasks.galaxy.train import fit

    task = get_task("galaxy")
    data = task.load_data(task.load_config(preset="quick"), galaxy_dir)
    checkpoints, kept = Checkpoints(), {}

    def take(epoch, metrics):
        kept[epoch] = checkpoints.take(epoch)

    mlflow.set_experiment("test-galaxy-checkpoints")
    with mlflow.start_run(), tempfile.TemporaryDirectory() as tmp:
        _, first = fit(task.load_config(preset="quick"), data, Path(tmp) / "best.keras", take, checkpoints)
    assert set(kept) == {1, 2} and (kept[2] / "best.keras").exists()
    more = task.load_config(preset="quick", overrides={"train.epochs": 4})
    with mlflow.start_run() as run, tempfile.TemporaryDirectory() as tmp:
        model, history = fit(more, data, Path(tmp) / "best.keras", None, Checkpoints(kept[2]))
    assert history["val_accuracy"][:2] == first["val_accuracy"] and len(history["val_accuracy"]) == 4
    logged = MlflowClient(tracking).get_run(run.info.run_id).data.metrics
    assert logged["best_val_accuracy"] == pytest.approx(max(history["val_accuracy"]))
    assert np.asarray(model.predict(data.images[:2, 5:65, 5:65].astype("float32"), verbose=0)).shape == (2, 4)
