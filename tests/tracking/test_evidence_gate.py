"""The evidence on a real run and the promotion gate that reads it: a leaky split (the same records on
both sides of a split that declares itself grouped) is never made champion, on registration or by
`physml promote`, unless that check is overridden by name; a clean run passes."""

from __future__ import annotations

from pathlib import Path

from mlflow import MlflowClient

from physml.cli import main
from tests.helpers.tasks import plugin_on_path

NAME = "evidence-toy"


def train_toy(*args: str) -> str:
    settings = ["--set", f"registry.name={NAME}", "--set", "experiment=test-evidence", *args]
    assert main(["toyreg", "train", "--preset", "quick", *settings]) == 0
    return MlflowClient().get_model_version_by_alias(NAME, "candidate").version


def test_a_leaky_run_is_refused_and_a_clean_one_promoted(tracking, capsys):
    client = MlflowClient()
    with plugin_on_path():
        leaky = train_toy("--set", "data.leak_rows=60")
        run = client.get_run(client.get_model_version(NAME, leaky).run_id)
        assert run.data.metrics["val_shared_ids"] == 60 and run.data.metrics["val_shared_groups"] == 60
        assert "60 record ids in both train and val" in run.data.tags["evidence.leak"]
        out = capsys.readouterr().out
        assert f"{NAME} v{leaky} is not made champion: leak: 60 record ids" in out
        assert client.get_model_version(NAME, leaky).tags["promotion.champion.decision"] == "withheld"

        assert main(["promote", NAME, "--metric", "mse"]) == 1
        out = capsys.readouterr().out
        assert "not promoted" in out and "evidence check 'leak' failed: the split leaks: 60 record ids" in out

        clean = train_toy()
        run = client.get_run(client.get_model_version(NAME, clean).run_id)
        assert run.data.tags["evidence.leak"] == "none" and run.data.metrics["val_skill_over_knn"] > 0
        assert "no group repeats" in run.data.tags["evidence.floor"]
        assert main(["promote", NAME, "--metric", "mse"]) == 0
        assert client.get_model_version_by_alias(NAME, "champion").version == clean

        # an override is by name and on the record
        client.set_registered_model_alias(NAME, "candidate", leaky)
        assert main(["promote", NAME, "--metric", "mse", "--ignore-evidence", "leak", "--alias", "review"]) == 0
        assert client.get_model_version(NAME, leaky).tags["promotion.review.ignored_evidence"] == "leak"
    text = Path(client.download_artifacts(run.info.run_id, "card.md")).read_text()
    assert run.data.tags["mlflow.note.content"].startswith("**toyreg mlp**")
    for section in ("## 1. Data", "## 2. Split", "## 4. Baselines", "## 5. Repeat-scatter floor", "## 8. Environment"):
        assert section in text
    assert "Not computable: no group repeats." in text
