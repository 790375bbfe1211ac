"""The spool is a journal that survives damage (tracking/spool.py): `physml sync` replays it line by
line, keeps what parses, names the local file and line that does not, ends a run with no recorded
status FAILED with a reason, and deletes an entry only once the server shows the run terminal."""

from __future__ import annotations

import json

import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric

from physml.tracking import spool
from physml.tracking.processes import process_tags


@pytest.fixture
def home(tracking, monkeypatch, tmp_path):
    monkeypatch.setenv("PHYSML_HOME", str(tmp_path))
    return tmp_path


def spooled_run(tracking: str, name: str, epochs: int = 3, tags: dict | None = None):
    """A RUNNING run on the server and its spool entry holding `epochs` epochs of `loss`."""
    client = MlflowClient(tracking)
    experiment = client.get_experiment_by_name(name) or client.get_experiment(client.create_experiment(name))
    run_id = client.create_run(experiment.experiment_id, tags=tags or {}).info.run_id
    entry = spool.Spool(run_id, tracking)
    entry.metrics([Metric("loss", 1.0 / (step + 1), 1_700_000_000_000 + step, step) for step in range(epochs)])
    return client, run_id, entry.folder


def test_a_spool_file_cut_mid_line_replays_every_intact_line(home, tracking, capsys):
    from physml import cli

    client, run_id, folder = spooled_run(tracking, "test-spool-cut")
    with open(folder / "metrics.jsonl", "a") as handle:
        handle.write('{"key": "loss", "value": 0.1, "timest')  # the disk filled up mid-line
    spool.Spool(run_id, tracking).end("FAILED", "RuntimeError: the server went away")
    assert cli.main(["sync"]) == 0
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if line.startswith(f"run {run_id}")]
    assert f"skipped 1 damaged spool line(s): {folder / 'metrics.jsonl'} line 4" in line, out
    assert "refused" not in out
    assert [m.step for m in client.get_metric_history(run_id, "loss")] == [0, 1, 2]
    run = client.get_run(run_id)
    assert run.info.status == "FAILED" and run.data.tags["physml.error"] == "RuntimeError: the server went away"
    assert "metrics.jsonl line 4" in run.data.tags["physml.spool"]
    assert not folder.exists()


def test_an_empty_status_ends_the_run_failed_with_a_reason(home, tracking, capsys):
    from physml import cli

    client, run_id, folder = spooled_run(tracking, "test-spool-no-status")
    (folder / "status.jsonl").write_text("")
    # a run whose process still runs here (this one) keeps its entry: it is still being written
    _, live_id, live_folder = spooled_run(tracking, "test-spool-no-status", tags=process_tags())
    (home / "spool" / "broken").mkdir()
    (home / "spool" / "broken" / "meta.json").write_text('{"run_id": ')
    assert cli.main(["sync"]) == 1
    out = capsys.readouterr().out
    run = client.get_run(run_id)
    assert run.info.status == "FAILED" and run.data.tags["physml.error"] == spool.NO_STATUS
    assert len(client.get_metric_history(run_id, "loss")) == 3 and not folder.exists()
    assert client.get_run(live_id).info.status == "RUNNING" and live_folder.exists()
    assert f"still waiting: run {live_id}: its process still runs" in out, out
    assert f"still waiting: run broken: {home / 'spool' / 'broken' / 'meta.json'} is damaged" in out, out
    client.set_terminated(live_id, "FINISHED")


def test_an_entry_stays_until_the_server_shows_the_run_terminal(home, tracking, monkeypatch):
    """A server that takes the replay but does not end the run (here: set_terminated does nothing)."""
    client, run_id, folder = spooled_run(tracking, "test-spool-kept")
    spool.Spool(run_id, tracking).end("KILLED", "Stopped: by SIGTERM")
    with monkeypatch.context() as patch:
        patch.setattr(MlflowClient, "set_terminated", lambda self, *args, **kwargs: None)
        sent, waiting = spool.replay_all()
    assert not sent and waiting == [f"run {run_id}: still RUNNING on {tracking} after the replay; kept in {folder}"]
    assert folder.exists() and json.loads((folder / "meta.json").read_text())["run_id"] == run_id
    sent, waiting = spool.replay_all()
    assert len(sent) == 1 and not waiting and not folder.exists()
    assert client.get_run(run_id).info.status == "KILLED"
