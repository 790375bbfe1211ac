"""pyproject.toml and conda.yaml list the same dependencies; the MLproject names real entry points."""

import tomllib

import yaml

from tests.helpers.processes import REPO_ROOT


def test_conda_env_and_pyproject_agree():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    conda = yaml.safe_load((REPO_ROOT / "conda.yaml").read_text())["dependencies"]
    (pip_section,) = [item for item in conda if isinstance(item, dict)]
    assert sorted(pip_section["pip"]) == sorted(project + ["-e ."])
    assert "python=3.11" in conda


def test_mlproject_entry_points_call_the_cli():
    spec = yaml.safe_load((REPO_ROOT / "MLproject").read_text())
    assert spec["conda_env"] == "conda.yaml"
    entries = (
        ("train", "physml {task} train"),
        ("supercon", "physml supercon train"),
        ("galaxy", "physml galaxy train"),
        ("tune", "physml tune"),
    )
    for entry, prefix in entries:
        command = spec["entry_points"][entry]["command"]
        assert command.startswith(prefix)
        for parameter in spec["entry_points"][entry]["parameters"]:
            assert "{" + parameter + "}" in command
