"""`physml promote` with a metric gate and `physml models list`, on versions trained for real and
registered on the test server."""

from mlflow import MlflowClient

from physml.cli import main

NAME = "test-promote"


def train_linear(supercon_dir, *args: str) -> str:
    code = main(
        [
            "supercon",
            "train",
            "--model",
            "linear",
            "--preset",
            "quick",
            "--experiment",
            "test-promotion",
            "--set",
            f"registry.names.linear={NAME}",
            "--set",
            "evaluation.explain=false",
            "--set",
            "evaluation.plots=false",  # the gates read metrics and evidence, not figures
            "--data-dir",
            str(supercon_dir),
            *args,
        ]
    )
    assert code == 0
    return MlflowClient().get_model_version_by_alias(NAME, "candidate").version


def promote(*args: str) -> int:
    """Promote with the baseline check overridden: a linear model of Tc is no better than the
    nearest-neighbour baseline (the evidence gate refuses it by default, asserted below)."""
    return main(["promote", NAME, *args, "--ignore-evidence", "baseline"])


def test_promotion_decisions(tracking, supercon_dir, capsys):
    client = MlflowClient()
    v1 = train_linear(supercon_dir, "--feature-set", "seed17")
    assert client.get_model_version_by_alias(NAME, "champion").version == v1  # the first version

    v2 = train_linear(supercon_dir)  # all81 beats seed17
    assert main(["promote", NAME, "--metric", "rmse"]) == 1  # the evidence gate, by default
    assert "evidence check 'baseline' failed: val_skill_over_knn = -" in capsys.readouterr().out
    assert promote("--metric", "rmse") == 0  # on the validation part; lower is better
    assert client.get_model_version_by_alias(NAME, "champion").version == v2
    tags = client.get_model_version(NAME, v2).tags
    assert (
        tags["promotion.champion.decision"] == "promoted"
        and f"val_rmse {client.get_run(client.get_model_version(NAME, v2).run_id).data.metrics['val_rmse']:.4g} beats the champion v{v1}"
        in tags["promotion.champion.reason"]
    )
    assert tags["promotion.champion.previous"].startswith(f"v{v1} val_rmse=")
    assert tags["promotion.champion.ignored_evidence"] == "baseline"
    # the test part is in the record, not in the decision
    assert tags["promotion.champion.test"].startswith("test_r2=") and "test_rmse=" in tags["promotion.champion.test"]
    assert tags["promotion.champion.previous_test"].startswith("test_r2=")
    assert "test part (reported, not decided on): test_r2=" in capsys.readouterr().out

    v3 = train_linear(supercon_dir, "--feature-set", "seed17")  # worse again
    assert promote("--metric", "r2") == 1
    out = capsys.readouterr().out
    assert "val_r2" in out and "does not beat the champion" in out
    assert client.get_model_version_by_alias(NAME, "champion").version == v2
    assert client.get_model_version(NAME, v3).tags["promotion.champion.decision"] == "rejected"
    assert promote("--metric", "test_r2") == 1  # named explicitly: the test part decides, with a warning
    out, err = capsys.readouterr()
    assert "test_r2" in out and "does not beat the champion" in out and "warning: deciding on the test part" in err
    assert promote("--metric", "r2", "--min", "0.99") == 1
    assert "is below the gate --min 0.99" in capsys.readouterr().out

    train_linear(supercon_dir, "--split", "grouped")  # another split: never compared with the champion
    assert promote("--metric", "r2") == 1
    assert "not comparable: split" in capsys.readouterr().out
    assert client.get_model_version_by_alias(NAME, "champion").version == v2

    assert main(["models", "list"]) == 0
    listing = [line for line in capsys.readouterr().out.splitlines() if line.startswith(NAME)]
    assert len(listing) == 4
    assert any(f" {v2} " in line and "champion" in line for line in listing)

    # --coverage-tolerance: the interval must keep its promise on the validation part, and be no
    # wider than the champion's at the same level
    train_linear(supercon_dir)  # the champion's config again: as good, its coverage ~0.9 but not exactly
    assert promote("--metric", "rmse", "--coverage-tolerance", "0.0001") == 1
    assert "misses its level 0.9 by more than --coverage-tolerance 0.0001" in capsys.readouterr().out
    wide = train_linear(supercon_dir, "--feature-set", "seed17")  # a worse model: a wider interval
    assert promote("--metric", "rmse", "--mode", "max", "--coverage-tolerance", "0.05") == 1  # max: it "beats" on rmse
    out = capsys.readouterr().out
    assert "val_interval_width" in out and f"is wider than the champion v{v2}'s" in out
    assert client.get_model_version(NAME, wide).tags["promotion.champion.coverage"].startswith("val_interval_coverage=")
    assert client.get_model_version_by_alias(NAME, "champion").version == v2


def test_promote_errors_name_the_problem(tracking, capsys):
    assert main(["promote", "no-such-model", "--metric", "test_r2"]) == 2
    assert "model 'no-such-model' has no version with alias 'candidate'" in capsys.readouterr().err
