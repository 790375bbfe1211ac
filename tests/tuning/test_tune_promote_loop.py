"""physml's own loop, for real, on a short budget: a registered champion, `physml tune supercon --spec
gbm` (XGBoost trials reporting every N rounds, ASHA, early stopping on the validation part) retrains
its best as `candidate`, and `physml promote` moves `champion` only when the candidate is better on
the validation part of the same data and split."""

from __future__ import annotations

from mlflow import MlflowClient

from physml.cli import main
from tests.helpers.tuning import one_finished_run_per_trial, physml_tune, search_runs

NAME = "test-loop-gbm"
EXPERIMENT = "test-tune-promote-loop"
ROUNDS = 120
EVERY = 20


def train(supercon_dir, *args: str) -> str:
    common = ["--preset", "quick", "--experiment", EXPERIMENT, "--set", f"registry.names.gbm={NAME}"]
    common += ["--set", "evaluation.explain=false", "--set", "evaluation.plots=false"]  # promotion reads metrics
    code = main(["supercon", "train", "--model", "gbm", *common, "--data-dir", str(supercon_dir), *args])
    assert code == 0
    return MlflowClient().get_model_version_by_alias(NAME, "candidate").version


def val_rmse(client: MlflowClient, version: str) -> float:
    return client.get_run(client.get_model_version(NAME, version).run_id).data.metrics["val_rmse"]


def test_tuned_candidate_is_promoted_only_when_better(tracking, mlflow_server, supercon_dir, tmp_path, capsys):
    client = MlflowClient()
    first = train(supercon_dir, "--set", "gbm.max_depth=2", "--set", "gbm.n_estimators=20")  # a weak champion
    assert client.get_model_version_by_alias(NAME, "champion").version == first

    physml_tune(
        mlflow_server.url,
        "supercon",
        "--spec",
        "gbm",
        "--search",
        "bayes",
        "--num-samples",
        "2",
        "--epochs",
        str(ROUNDS),  # the boosted model's epochs are its rounds
        "--preset",
        "quick",
        "--set",
        f"registry.names.gbm={NAME}",
        "--set",
        f"experiment={EXPERIMENT}",
        "--storage",
        str(tmp_path / "ray"),
        "--data-dir",
        str(supercon_dir),
    )
    parent, trials, retrained = search_runs(mlflow_server.url, EXPERIMENT)
    assert parent.info.status == "FINISHED" and parent.data.params["search.kind"] == "bayes"
    for trial in one_finished_run_per_trial(trials):
        assert trial.data.params["model"] == "gbm"
        steps = sorted(m.step for m in client.get_metric_history(trial.info.run_id, "val_rmse"))
        reported = [step for step in steps if step % EVERY == 0]
        assert reported[:2] == [EVERY, 2 * EVERY]  # every 20 rounds through the per-epoch hook
        assert trial.data.metrics["boosted_rounds"] <= ROUNDS
    candidate = client.get_model_version_by_alias(NAME, "candidate").version
    assert int(candidate) == int(first) + 1 and retrained is not None
    assert client.get_model_version(NAME, candidate).run_id == retrained.info.run_id

    capsys.readouterr()
    code = main(["promote", NAME, "--metric", "rmse"])
    better = val_rmse(client, candidate) < val_rmse(client, first)
    assert code == (0 if better else 1), capsys.readouterr().out
    assert client.get_model_version_by_alias(NAME, "champion").version == (candidate if better else first)
    assert better, "a tuned 120-round model should beat 20 rounds of depth 2 on the validation part"

    champion = candidate
    other_split = train(supercon_dir, "--split", "grouped")  # another split: never compared, never promoted
    # (a quick gbm is no better than the nearest-neighbour baseline on unseen compositions: the evidence
    # gate would refuse it first)
    assert main(["promote", NAME, "--metric", "rmse", "--ignore-evidence", "baseline"]) == 1
    assert "not comparable: split" in capsys.readouterr().out
    assert client.get_model_version_by_alias(NAME, "champion").version == champion != other_split
