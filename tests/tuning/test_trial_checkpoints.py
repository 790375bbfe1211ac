"""How a trial hands its checkpoints to Tune (unit tests: Tune's report is replaced; the real thing
runs in test_cluster.py, test_resume.py and test_pbt.py)."""

from __future__ import annotations

import json
import shutil

import pytest
from ray import tune

from physml.models.checkpoints import STATE_FILE, Checkpoints, is_complete
from physml.tuning import restore, trainable


@pytest.fixture
def reports(monkeypatch):
    """Every tune.report call as (metrics, checkpoint path or None); a node that cannot reach the
    search's storage when the first checkpoint comes (as Ray raises it)."""
    calls, tags = [], []

    def report(metrics, checkpoint=None):
        if checkpoint is not None and not calls:
            raise RuntimeError("Unable to set up cluster storage with the following settings: ...")
        calls.append((dict(metrics), checkpoint.path if checkpoint else None))

    class Client:
        def set_tag(self, run_id, key, value):
            tags.append((run_id, key, value))

    monkeypatch.setattr(trainable.tune, "report", report)
    monkeypatch.setattr(trainable, "MlflowClient", Client)
    return calls, tags


def test_a_node_without_the_storage_trains_on_without_checkpoints(reports, tmp_path):
    calls, tags = reports
    checkpoints = Checkpoints()
    folder = checkpoints.save(1, lambda f: (f / "model.keras").write_text("x"))
    trainable.report_epoch({"epoch": 1, "mlflow_run_id": "r1"}, checkpoints.take(1), checkpoints)
    assert calls == [({"epoch": 1, "mlflow_run_id": "r1"}, None)]  # the epoch still reaches Tune
    assert tags == [("r1", "trial.checkpoints", "off: this node cannot reach the search's --storage")]
    assert not folder.exists() and not checkpoints.due(2, 5)  # no more checkpoints from this trial


def test_resume_tags_name_the_donor_of_a_cloned_checkpoint(tmp_path):
    donor = Checkpoints(meta={"trial_id": "t2", "params": {"dnn.learning_rate": 0.01}})
    folder = donor.save(4, lambda f: None)
    assert trainable.resume_tags(Checkpoints(folder), "t2") == {"trial.resumed_from_epoch": "4"}
    assert trainable.resume_tags(Checkpoints(folder), "t1") == {
        "trial.resumed_from_epoch": "4",
        "pbt.exploited_trial": "t2",
        "pbt.exploited_params": '{"dnn.learning_rate": 0.01}',
    }
    assert trainable.resume_tags(None, "t1") == {} and trainable.resume_tags(Checkpoints(), "t1") == {}


def test_resume_puts_the_newest_whole_checkpoint_where_tune_expects_a_deleted_one(tmp_path):
    """Tune's saved state names checkpoint_000005, which its pruning deleted before the state was
    saved; checkpoint_000006's upload was cut off (its model file short), checkpoint_000004 is whole."""
    trial = tmp_path / "run_trial_x_00002"
    for epoch, cut_off in ((4, False), (6, True)):
        saved = Checkpoints(meta={"trial_id": "x_00002"}).save(
            epoch, lambda f: (f / "model.keras").write_text("w" * 100)
        )
        if cut_off:
            (saved / "model.keras").write_text("w" * 10)
        assert is_complete(saved) is not cut_off
        shutil.copytree(saved, trial / f"checkpoint_00000{epoch}")
    named = tune.Checkpoint(str(trial / "checkpoint_000005"))
    outcome = restore.replace_missing(named)
    assert outcome.startswith("continues from checkpoint_000004 (Tune's saved state named checkpoint_000005")
    state = json.loads((trial / "checkpoint_000005" / STATE_FILE).read_text())
    assert state["epoch"] == 4 and (trial / "checkpoint_000005" / "model.keras").read_text() == "w" * 100
    assert trainable.resume_tags(Checkpoints(trial / "checkpoint_000005"), "x_00002") == {
        "trial.resumed_from_epoch": "4",
        "trial.restored_from": state[restore.RESTORED_NOTE],
    }
    # nothing whole is left: the trial starts again, and says so
    for epoch in (4, 5):
        shutil.rmtree(trial / f"checkpoint_00000{epoch}")
    assert restore.replace_missing(tune.Checkpoint(str(trial / "checkpoint_000007"))).startswith(
        "starts again at epoch 0"
    )
