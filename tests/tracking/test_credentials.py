"""Credentials in a tracking URI (`http://user:PASSWORD@host`) are never printed or stored in the
clear (the password shows as ***): not in the UI line, an error line, a run's `physml.error`, nor the
spool (whose files only the owner reads); a replay gets them back from $MLFLOW_TRACKING_URI."""

from __future__ import annotations

import stat

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric

from physml.tracking import spool
from physml.tracking.ui_links import print_ui_link

SECRET = "S3CRET-pw"


def with_password(url: str, password: str = SECRET) -> str:
    return url.replace("http://", f"http://alice:{password}@", 1)


def test_credentials_are_never_printed_or_spooled(tracking, monkeypatch, tmp_path, capsys):
    from physml import cli

    monkeypatch.setenv("PHYSML_HOME", str(tmp_path))
    client = MlflowClient(tracking)
    experiment_id = client.create_experiment("test-credentials")
    run_id = client.create_run(experiment_id).info.run_id
    mlflow.set_tracking_uri(with_password(tracking))  # the server has no login: it ignores them
    try:
        print_ui_link(run_id)
    finally:
        mlflow.set_tracking_uri(tracking)
    shown = with_password(tracking, "***")
    assert f"MLflow UI: {shown}/#/experiments/{experiment_id}/runs/{run_id}" in capsys.readouterr().out

    entry = spool.Spool(run_id, with_password(tracking))
    entry.metrics([Metric("loss", 0.5, 1_700_000_000_000, 0)])
    entry.end("FAILED", f"could not reach {with_password(tracking)}")
    for path in [entry.folder / name for name in ("meta.json", "metrics.jsonl", "tags.jsonl", "status.jsonl")]:
        assert SECRET not in path.read_text() and stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(entry.folder.stat().st_mode) == 0o700
    monkeypatch.setenv("MLFLOW_TRACKING_URI", with_password(tracking))
    assert spool.with_credentials(shown) == with_password(tracking)  # the replay logs in as the user
    sent, waiting = spool.replay_all()
    assert len(sent) == 1 and not waiting and SECRET not in sent[0]
    assert client.get_run(run_id).data.tags["physml.error"] == f"could not reach {shown}"

    monkeypatch.setenv("MLFLOW_TRACKING_URI", with_password("http://127.0.0.1:9"))
    monkeypatch.setenv("PHYSML_SERVER_WAIT_SECONDS", "1")
    assert cli.main(["compare", "supercon"]) == 2
    err = capsys.readouterr().err
    # the login went to MLflow's variables: the URI physml uses and names holds no user info
    assert "cannot reach the tracking server http://127.0.0.1:9" in err and SECRET not in err, err


def test_mlflows_own_view_run_lines_show_no_password(tracking, supercon_dir, monkeypatch, capsys):
    """With -v, MLflow prints "View run ... at: <tracking URI>" itself: physml hands it the URI without
    the user info (the login goes through MLFLOW_TRACKING_USERNAME/PASSWORD instead)."""
    from physml.cli import main

    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", with_password(tracking))
    args = ["--model", "linear", "--preset", "quick", "--experiment", "test-credentials-view-run"]
    assert main(["-v", "supercon", "train", *args, "--data-dir", str(supercon_dir), "--no-register"]) == 0
    out, err = capsys.readouterr()
    assert "View run" in out and SECRET not in out + err
