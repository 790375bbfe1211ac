"""One suite over every registered task (physml's own and the plug-in of tests/third_task): a quick
training, a 2-point grid search that retrains its best as `candidate`, compare, promote, and the
registered model served over REST by `mlflow models serve`. A new task joins by registering: it needs a
`quick` preset, a search spec naming its metric, and the epochs key of the model it tunes.

Each step checks what the server returns, against the task's own declarations (the metric's direction,
the epochs it was asked for), never against figures written here."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
import yaml
from mlflow import MlflowClient

from physml.cli import main
from physml.tasks import get_task, task_names
from tests.helpers.processes import served_model
from tests.helpers.tasks import plugin_on_path, version_of
from tests.helpers.tuning import one_finished_run_per_trial, physml_tune, search_runs

with plugin_on_path():
    TASKS = task_names()
GRID_EPOCHS = [1, 2]


def better(task, metric: str, a: float, b: float) -> bool:
    return a < b if task.metric_mode(metric) == "min" else a > b


def grid_spec(task, folder: Path) -> tuple[Path, str, str]:
    """The task's own search spec with its grid replaced by two epoch counts of the model it tunes;
    (the spec's path, the model, the metric)."""
    spec = yaml.safe_load(task.search_spec_path().read_text())
    model = spec.get("model") or task.search_model or task.models[0]
    kept = {key: spec[key] for key in ("model", "metric", "mode") if key in spec}
    kept["grid"] = {"fixed": {}, "space": {task.epochs_key[model]: {"grid": GRID_EPOCHS}}}
    path = folder / f"grid_{task.name}.yaml"
    path.write_text(yaml.safe_dump(kept))
    return path, model, spec["metric"]


@pytest.fixture(scope="module", params=TASKS)
def loop(request, mlflow_server, quick_training, data_root, tmp_path_factory):
    """Train (quick), then tune a 2-point grid whose best is retrained as `candidate`; what each step left."""
    with plugin_on_path():
        task = get_task(request.param)
        folder = tmp_path_factory.mktemp(f"every-{task.name}")
        spec, model, metric = grid_spec(task, folder)
        champion_run = quick_training(task.name)[model]
        experiment = f"every-task-{task.name}"
        physml_tune(
            mlflow_server.url,
            task.name,
            *("--search", "grid", "--spec", str(spec), "--preset", "quick", "--max-concurrent", "2"),
            *("--set", f"experiment={experiment}", "--storage", str(folder / "ray")),
            env={"PHYSML_DATA_DIR": str(data_root)},
        )
        yield {
            "task": task,
            "model": model,
            "metric": metric,
            "experiment": experiment,
            "champion_run": champion_run,
            "search": search_runs(mlflow_server.url, experiment),
        }


def test_quick_training_is_one_finished_run_per_model(loop, mlflow_server):
    task, run = loop["task"], loop["champion_run"]
    assert run.info.status == "FINISHED" and run.data.tags["task"] == task.name
    history = MlflowClient(mlflow_server.url).get_metric_history(run.info.run_id, loop["metric"])
    assert len(history) >= 1 and np.isfinite(history[-1].value)


def test_grid_search_runs_both_points_and_retrains_the_best(loop, mlflow_server):
    task, metric = loop["task"], loop["metric"]
    parent, trials, retrained = loop["search"]
    assert parent.info.status == "FINISHED" and parent.data.params["search.kind"] == "grid"
    assert parent.data.params["search.mode"] == task.metric_mode(metric)
    finished = one_finished_run_per_trial(trials)
    client = MlflowClient(mlflow_server.url)
    epochs = sorted(max(m.step for m in client.get_metric_history(t.info.run_id, metric)) for t in finished)
    assert epochs == GRID_EPOCHS  # each trial trained the epochs its grid point asked for
    values = [t.data.metrics[metric] for t in finished]
    best = min(values) if task.metric_mode(metric) == "min" else max(values)
    assert parent.data.metrics[f"best_{metric}"] == pytest.approx(best)
    assert retrained is not None and retrained.info.status == "FINISHED"
    # trials leave heavy artifacts out (the task's trial_overrides); the retrained best has them all
    assert artifact_paths(client, retrained.info.run_id) >= artifact_paths(client, loop["champion_run"].info.run_id)
    version = version_of(client, retrained.info.run_id)
    assert client.get_model_version_by_alias(version.name, "candidate").version == version.version


def artifact_paths(client: MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    """Every artifact file of a run, by path (model files left out: their names carry the run's own ids)."""
    found = set()
    for item in client.list_artifacts(run_id, path):
        if item.is_dir and not item.path.startswith("model"):
            found |= artifact_paths(client, run_id, item.path)
        elif not item.is_dir:
            found.add(item.path)
    return found


def test_compare_ranks_by_the_declared_direction(loop, mlflow_server, capsys):
    task, metric = loop["task"], loop["metric"]
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
        assert main(["compare", loop["experiment"], "--metric", metric, "--top", "10", "--no-log"]) == 0
    ranked = [line.split()[-1] for line in capsys.readouterr().out.splitlines()[2:] if line.strip()]
    client = MlflowClient(mlflow_server.url)
    runs = client.search_runs([client.get_experiment_by_name(loop["experiment"]).experiment_id])
    by_server = {r.info.run_id: r.data.metrics[metric] for r in runs if metric in r.data.metrics}
    assert len(ranked) == len(by_server) >= 3  # the two trials and the retrained best
    values = [by_server[run_id] for run_id in ranked]
    assert values == sorted(values, reverse=task.metric_mode(metric) == "max")


def test_promote_moves_the_champion_only_when_the_candidate_is_better(loop, mlflow_server, capsys):
    task, metric = loop["task"], loop["metric"]
    client = MlflowClient(mlflow_server.url)
    name = version_of(client, loop["champion_run"].info.run_id).name
    champion = client.get_model_version_by_alias(name, "champion")
    candidate = client.get_model_version_by_alias(name, "candidate")
    assert candidate.run_id == loop["search"][2].info.run_id

    def value(version) -> float:
        return client.get_run(version.run_id).data.metrics[metric]

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
        # a quick preset's model is weak by design: its baseline, coverage and ECE checks are overridden
        # here (tests/tracking/test_evidence_gate.py tests the gate); a leak or the floor still refuses
        weak = [f"--ignore-evidence={check}" for check in ("baseline", "coverage", "ece")]
        code = main(["promote", name, "--metric", metric, *weak])
    wins = better(task, metric, value(candidate), value(champion))
    comparable = "not comparable" not in capsys.readouterr().out
    assert code == (0 if wins and comparable else 1)
    expected = candidate if code == 0 else champion
    assert client.get_model_version_by_alias(name, "champion").version == expected.version


CARD_SECTIONS = (
    "1. Data",
    "2. Split and leakage checks",
    "3. Metrics",
    "4. Baselines",
    "5. Repeat-scatter floor",
    "6. Uncertainty",
    "7. Published figures",
    "8. Environment",
)


def test_every_run_carries_its_evidence_and_card(loop, mlflow_server, tmp_path):
    """The split audit, both baselines on the validation part (the test part where the task has one),
    the floor or why not, and the model card with its first lines as the run's description: from the
    task's declarations alone."""
    client = MlflowClient(mlflow_server.url)
    run = loop["champion_run"]
    metrics, tags = run.data.metrics, run.data.tags
    assert tags["evidence.leak"] == "none"
    for baseline in ("dummy", "knn"):
        skill = [metrics[f"val_skill_over_{baseline}{end}"] for end in ("_ci_low", "", "_ci_high")]
        assert skill == sorted(skill) and all(np.isfinite(skill))
    repeats = "floor_rmse" in metrics
    assert (tags["evidence.floor"] == "computed") == repeats
    if repeats:  # a group key that repeats: the floor is a spread, and below what the model reaches
        assert metrics["floor_rmse"] > 0 and 0 < metrics["floor_share"] < 1 and metrics["floor_r2_max"] <= 1
        assert tags["evidence.below_floor.val"] == "false"
    else:
        assert tags["evidence.floor"].startswith("not computable: ")
    card = Path(client.download_artifacts(run.info.run_id, "card.md", str(tmp_path))).read_text()
    assert [section for section in CARD_SECTIONS if f"## {section}" in card] == list(CARD_SECTIONS)
    model = run.data.params.get("model", tags["model"])
    description = tags["mlflow.note.content"]
    assert description.startswith(f"**{loop['task'].name} {model}**") and "Flags: none." in description
    assert description.split("\n\n")[0] in card  # the card's first lines are the description
    if not repeats:
        assert f"{tags['evidence.floor'][0].upper()}{tags['evidence.floor'][1:]}." in card


def test_registered_model_is_served_over_rest(loop, mlflow_server, tmp_path):
    """`mlflow models serve` on the retrained best, started for real: its own input example (or zeros
    of its signature's shape) gets one prediction per row."""
    client = MlflowClient(mlflow_server.url)
    version = version_of(client, loop["search"][2].info.run_id)
    uri = f"models:/{version.name}/{version.version}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
        folder = mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / "model"))
    rows, payload = request_body(mlflow.models.Model.load(folder), folder)
    with served_model(uri, mlflow_server.url, tmp_path / "serve.log") as url:
        response = requests.post(f"{url}/invocations", json=payload, timeout=120)
    assert response.status_code == 200, response.text[:2000]
    predictions = response.json()["predictions"]
    assert len(predictions) == rows
    numbers = pd.json_normalize(predictions).to_numpy(dtype=float) if isinstance(predictions[0], dict) else None
    assert np.isfinite(numbers if numbers is not None else np.asarray(predictions, dtype=float)).all()


def request_body(model, folder: str) -> tuple[int, dict]:
    """(rows, the JSON body) of the model's input example, else of zeros shaped as its signature says."""
    example = model.load_input_example(folder)
    if example is None:
        (spec,) = model.signature.inputs.inputs
        example = np.zeros((2, *spec.shape[1:]), dtype=spec.type)
    if isinstance(example, pd.DataFrame):
        return len(example), {"dataframe_split": example.to_dict(orient="split")}
    return len(example), {"inputs": np.asarray(example).tolist()}
