"""A search killed mid-way (the real processes, SIGKILL: its whole PID namespace) continues with
--resume without redoing finished trials, and the trial it cut off goes on from its last checkpoint."""

from __future__ import annotations

import json
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from physml.tracking.epochs import FLUSH_VARIABLE
from tests.helpers.isolated import isolated_in_background, require_isolation
from tests.helpers.processes import subprocess_env
from tests.helpers.tuning import physml_tune, search_runs


def finished_trials(client: MlflowClient, experiment: str) -> list:
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    runs = client.search_runs([found.experiment_id], "attributes.status = 'FINISHED'", max_results=200)
    return [r for r in runs if "ray.trial_id" in r.data.tags]


def running_trial_epochs(client: MlflowClient, experiment: str) -> int:
    """Epochs the running trial has logged (0 when none runs)."""
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return 0
    runs = client.search_runs([found.experiment_id], "attributes.status = 'RUNNING'")
    trials = [r for r in runs if "ray.trial_id" in r.data.tags]
    return max((len(client.get_metric_history(r.info.run_id, "val_rmse")) for r in trials), default=0)


def running_trial_id(client: MlflowClient, experiment: str) -> str | None:
    found = client.get_experiment_by_name(experiment)
    running = client.search_runs([found.experiment_id], "attributes.status = 'RUNNING'") if found else []
    return next((r.data.tags["ray.trial_id"] for r in running if "ray.trial_id" in r.data.tags), None)


def named_checkpoint(tune_folder: Path, trial_id: str | None) -> str | None:
    """The checkpoint Tune's saved experiment state names for the trial (None before it names one)."""
    for state_file in tune_folder.glob("experiment_state-*.json"):
        try:
            trials = json.loads(state_file.read_text())["trial_data"]
        except ValueError:  # being written
            return None
        for trial, metadata in trials:
            if json.loads(trial)["trial_id"] == trial_id:
                return (json.loads(metadata).get("last_result") or {}).get("checkpoint_dir_name")
    return None


def delete_named_checkpoint(tune_folder: Path, trial_id: str) -> str:
    """What Tune's pruning does when a kill lands between its deleting a trial's oldest checkpoint and
    its next save of the experiment state: the checkpoint that state names for the cut-off trial is
    gone. Returns its name."""
    named = named_checkpoint(tune_folder, trial_id)
    assert named, f"Tune's saved state names no checkpoint of trial {trial_id}"
    for checkpoint in tune_folder.glob(f"*{trial_id}*/{named}"):  # none when the race happened for real
        shutil.rmtree(checkpoint)
    return named


def test_killed_search_resumes_without_redoing_finished_trials(mlflow_server, supercon_dir, small_grid, tmp_path):
    spec = small_grid(units=(16, 32, 64), learning_rates=(1e-3, 3e-3), epochs=20)
    args = [
        "tune",
        "supercon",
        "--search",
        "grid",
        "--spec",
        spec,
        "--no-retrain",
        "--max-concurrent",
        "1",
        "--set",
        "experiment=test-tune-resume",
        "--storage",
        str(tmp_path / "ray"),
        "--name",
        "resumable",
        "--data-dir",
        str(supercon_dir),
    ]
    require_isolation()
    env = subprocess_env(mlflow_server.url)
    # every epoch reaches the server as it ends: with the default 2 s batching a 3 s trial shows its
    # epochs only at its first and last (a CI run saw the whole search end between two polls)
    env[FLUSH_VARIABLE] = "0"
    client = MlflowClient(mlflow_server.url)
    # the first search and its local Ray in a namespace of their own: ending it takes the driver, Ray
    # and the trial's worker at once (as a lost machine), and no `ray stop` is needed after
    first = shlex.join([str(Path(sys.executable).parent / "physml"), *args]) + "\n"
    with isolated_in_background(first, tmp_path / "ns", env, tmp_path / "first-search.log") as search:
        deadline = time.monotonic() + 300
        tune_folder = tmp_path / "ray" / "resumable"
        while time.monotonic() < deadline and not (
            len(finished_trials(client, "test-tune-resume")) >= 2
            and running_trial_epochs(client, "test-tune-resume") >= 4
            and named_checkpoint(tune_folder, running_trial_id(client, "test-tune-resume"))
        ):
            assert search.poll() is None, (tmp_path / "first-search.log").read_text()[-3000:]
            time.sleep(0.3)
        before_kill = {
            r.info.run_id: (r.data.params["units"], r.data.params["learning_rate"])
            for r in finished_trials(client, "test-tune-resume")
        }
        assert 2 <= len(before_kill) < 6, "the search should be part-way when it is killed"
    deleted = delete_named_checkpoint(tune_folder, running_trial_id(client, "test-tune-resume"))

    output = physml_tune(mlflow_server.url, *args[1:], "--resume").stdout
    assert "resuming the search" in output
    parent, trials, _ = search_runs(mlflow_server.url, "test-tune-resume")
    finished = [t for t in trials if t.info.status == "FINISHED"]
    configs = [(t.data.params["units"], t.data.params["learning_rate"]) for t in finished]
    seen = [
        (t.data.params.get("units"), t.data.params.get("learning_rate"), t.info.status, t.data.tags) for t in trials
    ]
    # every point once: nothing finished was trained again
    assert len(configs) == len(set(configs)) == 6, (output[-3000:], seen)
    assert set(before_kill) <= {t.info.run_id for t in finished}
    interrupted = [t for t in trials if t.data.tags.get("interrupted") == "true"]
    assert interrupted and all(t.info.status == "KILLED" for t in interrupted)
    # the trial the kill cut off went on from a checkpoint, not from epoch 0: the one Tune's saved
    # state named was deleted, so from its newest whole one left, and its run says which
    cut_off = {t.data.tags["ray.trial_id"] for t in interrupted}
    continued = [t for t in finished if t.data.tags["ray.trial_id"] in cut_off]
    assert continued and all(int(t.data.tags.get("trial.resumed_from_epoch", 0)) >= 1 for t in continued), [
        t.data.tags for t in continued
    ]
    assert all(f"named {deleted}, deleted" in t.data.tags["trial.restored_from"] for t in continued), [
        t.data.tags for t in continued
    ]
    assert f"trial {cut_off.pop()} continues from checkpoint_" in output
    assert parent.info.status == "FINISHED" and parent.data.metrics["n_trials"] == 6


def test_ctrl_c_stops_a_gp_search_cleanly_and_resume_finishes_it(mlflow_server, supercon_dir, tmp_path):
    """Ctrl-C (SIGINT to the driver): Tune saves its state and returns, and physml must not take that
    for the end of the search. Exit 2 with one line, the parent KILLED with nothing summarised, no run
    left RUNNING; --resume then finishes the search without training a finished trial again. The search
    is a `searcher: gp` one: the Gaussian process hands Ray whole units and layers and a learning rate
    in its log range, and its state comes back with Tune's."""
    spec = tmp_path / "gp.yaml"
    space = {
        "dnn.units": {"randint": [8, 65]},
        "dnn.layers": {"randint": [1, 3]},
        "dnn.learning_rate": {"loguniform": [1e-4, 1e-2]},
    }
    section = {"fixed": {"dnn.epochs": 5, "dnn.batch_size": 512}, "space": space, "num_samples": 5}
    section |= {"startup_trials": 2, "searcher": "gp", "asha": {"grace_period": 5}}
    spec.write_text(yaml.safe_dump({"model": "dnn", "metric": "val_rmse", "bayes": section}))
    args = ["supercon", "--search", "bayes", "--spec", str(spec), "--no-retrain", "--set", "experiment=test-tune-gp"]
    args += ["--storage", str(tmp_path / "ray"), "--name", "gp", "--data-dir", str(supercon_dir)]
    env = subprocess_env(mlflow_server.url)
    env[FLUSH_VARIABLE] = "0"
    client = MlflowClient(mlflow_server.url)
    command = [str(Path(sys.executable).parent / "physml"), "tune", *args]
    with open(tmp_path / "first.log", "w") as log:
        search = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not (
            len(finished_trials(client, "test-tune-gp")) >= 2 and running_trial_epochs(client, "test-tune-gp") >= 1
        ):
            assert search.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            time.sleep(0.2)
        search.send_signal(signal.SIGINT)
        assert search.wait(timeout=120) == 2, (tmp_path / "first.log").read_text()[-3000:]
    first_log = (tmp_path / "first.log").read_text()
    assert "run the same command with --resume to continue" in first_log.splitlines()[-1], first_log[-2000:]
    before = {r.info.run_id for r in finished_trials(client, "test-tune-gp")}
    assert 2 <= len(before) < 5, "the search should be part-way when it is stopped"
    parent, trials, _ = search_runs(mlflow_server.url, "test-tune-gp")
    assert parent.info.status == "KILLED" and parent.data.tags["search.error"].startswith("SearchInterrupted")
    assert "search.num_trials" not in parent.data.params  # nothing summarised
    assert not [t for t in trials if t.info.status == "RUNNING"]

    output = physml_tune(mlflow_server.url, *args, "--resume").stdout
    assert "resuming the search" in output
    parent, trials, _ = search_runs(mlflow_server.url, "test-tune-gp")
    assert parent.info.status == "FINISHED" and parent.data.metrics["n_trials"] == 5
    assert parent.data.params["search.searcher"] == "BayesOptSearch (Gaussian process, UCB)"
    assert (
        parent.data.tags["search.resumed_after"].startswith("SearchInterrupted")
        and "search.error" not in parent.data.tags
    )
    finished = [t for t in trials if t.info.status == "FINISHED"]
    assert len({t.data.tags["ray.trial_id"] for t in finished}) == len(finished) == 5
    assert before <= {t.info.run_id for t in finished}  # nothing finished was trained again
    assert all(t.data.tags.get("interrupted") == "true" for t in trials if t.info.status != "FINISHED"), [
        (
            t.info.status,
            sorted(k for k in t.data.tags if not k.startswith(("mlflow.", "physml.", "git", "ray.", "run."))),
        )
        for t in trials
        if t.info.status != "FINISHED"
    ]
    for trial in finished:
        units, layers = trial.data.params["units"], trial.data.params["layers"]
        assert units.isdigit() and 8 <= int(units) <= 64 and layers in ("1", "2"), trial.data.params
        assert 1e-4 <= float(trial.data.params["learning_rate"]) <= 1e-2
    best = json.loads(parent.data.tags["best_config"])
    assert isinstance(best["dnn.units"], int)
    assert parent.data.metrics["best_val_rmse"] == pytest.approx(min(t.data.metrics["val_rmse"] for t in finished))
