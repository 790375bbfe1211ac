"""How a trial hands its checkpoints to Tune (unit tests: Tune's report is replaced; the real thing
runs in test_cluster.py, test_resume.py and test_pbt.py)."""

from __future__ import annotations

import pytest

from physml.models.checkpoints import Checkpoints
from physml.tuning import trainable


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
