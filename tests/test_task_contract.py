"""The platform never names a task: outside `physml/tasks/<name>/`, no module mentions a registered
task, and with no task registered no help text does either (what they list comes from the registry)."""

from __future__ import annotations

import argparse
import re

import pytest

from physml.cli import build_parser
from physml.tasks import registered
from tests.helpers.processes import REPO_ROOT

PACKAGE = REPO_ROOT / "src" / "physml"


def all_help(parser: argparse.ArgumentParser) -> str:
    texts = [parser.format_help()]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            texts += [all_help(child) for child in action.choices.values()]
    return "\n".join(texts)


def test_the_built_in_tasks_are_registered_through_entry_points():
    tasks = registered()
    assert {"supercon", "galaxy"} <= set(tasks)
    for name, task in tasks.items():
        assert task.name == name and task.models and task.metrics
        assert set(task.metrics.values()) <= {"min", "max"}
        assert task.config_path().exists(), task.config_path()


@pytest.mark.parametrize("name", sorted(registered()))
def test_no_module_outside_a_tasks_folder_names_it(name):
    pattern = re.compile(re.escape(name), re.IGNORECASE)
    own = PACKAGE / "tasks" / name
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if own in path.parents:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_help_texts_name_no_task_of_their_own(monkeypatch):
    names = sorted(registered())
    monkeypatch.setattr("physml.tasks.registered", lambda: {})
    text = all_help(build_parser())
    found = [name for name in names if re.search(re.escape(name), text, re.IGNORECASE)]
    assert not found, f"help texts name {found} although no task is registered"


def test_every_option_says_what_it_does():
    """--help of every command lists its options with a line of help each (defaults shown)."""
    missing = []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, f"{path} {name}")
            elif action.option_strings and action.help in (None, "") and action.dest != "help":
                missing.append(f"{path} {action.option_strings[0]}")

    walk(build_parser(), "physml")
    assert not missing, missing


@pytest.mark.parametrize("name", sorted(registered()))
def test_anchors_are_data_with_a_declared_metric(name):
    task = registered()[name]
    anchors = task.anchors()
    assert anchors, f"projects/{name}/anchors.yaml is missing or empty"
    for anchor in anchors:
        assert anchor.source and anchor.value > 0
        assert task.metric_mode(anchor.metric) in ("min", "max")
        assert not anchor.model or anchor.model in task.models


def test_anchors_printed_beside_a_run_match_its_split_model_and_metrics():
    from physml.tasks.base import RunResult

    task = registered()["supercon"]
    config = task.load_config(overrides={"data.split": "grouped"})
    results = [RunResult(model="gbm", metrics={"test_rmse": 10.3, "test_r2": 0.91})]
    anchors = task.anchors_for(config, results)
    assert anchors and all(a.split == "grouped" and a.metric in results[0].metrics for a in anchors)
    assert not task.anchors_for(config, [RunResult(model="gbm", diverged=True)])


@pytest.mark.parametrize("name", sorted(registered()))
def test_every_config_has_the_shared_root(name):
    """The keys the platform reads of any task's config (physml.config.root.TaskConfig)."""
    from physml.config.core import get_dotted
    from physml.config.root import TaskConfig

    task = registered()[name]
    config = task.load_config()
    assert isinstance(config, TaskConfig)
    assert isinstance(get_dotted(config, "experiment"), str) and isinstance(get_dotted(config, "seed"), int)
    assert get_dotted(config, "registry.log_model") is True and get_dotted(config, "registry.register") is True
    trial = task.load_config(overrides=task.trial_overrides)
    assert trial.registry.log_model is False and trial.registry.register is False  # a trial keeps no model


def test_a_task_states_only_its_own_trial_overrides():
    from physml.config.root import TRIAL_OVERRIDES
    from physml.tasks.base import Task

    class Sketch(Task):
        trial_overrides = {"evaluation.plots": False, "registry.log_model": True}

    assert Sketch.trial_overrides == {**TRIAL_OVERRIDES, "evaluation.plots": False, "registry.log_model": True}
    assert Task.trial_overrides == TRIAL_OVERRIDES
