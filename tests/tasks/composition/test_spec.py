"""task.yaml, a composition task as data: the shipped specs load, each wrong field is one line naming
the file and the field, and PHYSML_PROJECTS_DIR's folders are searched before physml's own."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from physml.config.core import projects_dir, projects_dirs
from physml.errors import ConfigError
from physml.tasks.composition.spec import load_spec

PROJECTS = Path(__file__).resolve().parents[3] / "projects"
VALID = {
    "name": "toy_gap",
    "description": "a band gap",
    "data": "toy/gap.csv",
    "composition": "formula",
    "target": "gap",
    "kind": "regression",
    "metric": "mae",
}


@pytest.mark.parametrize("name, kind", [("expt_gap", "regression"), ("expt_is_metal", "classification")])
def test_the_matbench_specs_load_and_name_their_data(data_root, name, kind):
    spec = load_spec(PROJECTS / name)
    assert spec.name == name and spec.kind == kind and spec.id == "mbid" and spec.folds == "fold"
    assert (data_root / spec.data).exists() and spec.metric in spec.metrics


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"kind": "ranking"}, "field 'kind' must be regression or classification, got 'ranking'"),
        ({"metric": "accuracy"}, "field 'metric' must be one of mae, rmse, r2, mad_ratio for regression"),
        ({"name": "Gap!"}, "field 'name' must be lower-case letters"),
        ({"data": "../../etc/passwd"}, "field 'data' must be a path under the data root"),
        ({"target": 3}, "field 'target' must be a non-empty string, got 3"),
        ({"colour": "red"}, "unknown field 'colour'"),
        ({"composition": None}, "field 'composition' must be a non-empty string, got None"),
    ],
)
def test_a_wrong_field_is_one_line_naming_the_file_and_field(tmp_path, change, expected):
    (tmp_path / "task.yaml").write_text(yaml.safe_dump({**VALID, **change}))
    with pytest.raises(ConfigError) as caught:
        load_spec(tmp_path)
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "task.yaml")) and expected in message and "\n" not in message


def test_a_missing_field_and_a_missing_file_are_named(tmp_path):
    (tmp_path / "task.yaml").write_text(yaml.safe_dump({k: v for k, v in VALID.items() if k != "target"}))
    with pytest.raises(ConfigError, match=r"task\.yaml: missing field 'target'"):
        load_spec(tmp_path)
    with pytest.raises(ConfigError, match=r"task\.yaml: not found"):
        load_spec(tmp_path / "nowhere")


def test_projects_dirs_are_searched_in_order(tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    (second / "expt_gap").mkdir(parents=True)
    (first / "mine").mkdir(parents=True)
    monkeypatch.setenv("PHYSML_PROJECTS_DIR", f"{first}:{second}")
    folders = projects_dirs()
    assert folders[:2] == [first, second] and (folders[-1] / "supercon").is_dir()  # physml's own last
    assert projects_dir("mine") == first / "mine" and projects_dir("expt_gap") == second / "expt_gap"
    assert projects_dir("supercon") == folders[-1] / "supercon"
