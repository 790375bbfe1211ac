"""pyproject.toml, conda.yaml and requirements.lock agree; the MLproject names real entry points; a
served model's requirements name the distributions installed; a missing TensorFlow is one line."""

import re
import sys
import tomllib
from importlib.metadata import version

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

from tests.helpers.processes import REPO_ROOT

# Every distribution that installs the `tensorflow` or `xgboost` module: an environment holds one of each.
TENSORFLOW = {
    "tensorflow",
    "tensorflow-cpu",
    "tensorflow-gpu",
    "tensorflow-intel",
    "tensorflow-macos",
    "tensorflow-aarch64",
    "tensorflow-cpu-aws",
    "tensorflow-rocm",
    "intel-tensorflow",
    "tf-nightly",
    "tf-nightly-cpu",
}
XGBOOST = {"xgboost", "xgboost-cpu", "xgboost-gpu"}
LOCKED_EXTRAS = ("cpu", "team", "bench", "test")  # what requirements.lock pins and `make install` installs


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def project() -> dict:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]


def locked_pins(text: str) -> dict[str, str]:
    """`name==version` lines of a requirements file (hashes, comments and annotations left out)."""
    pins = {}
    for line in text.splitlines():
        if match := re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)", line):
            pins[canonical(match[1])] = match[3]
    return pins


def test_conda_env_is_the_base_and_cpu_extra():
    spec = project()
    conda = yaml.safe_load((REPO_ROOT / "conda.yaml").read_text())["dependencies"]
    (pip_section,) = [item for item in conda if isinstance(item, dict)]
    expected = spec["dependencies"] + spec["optional-dependencies"]["cpu"] + ["-e ."]
    assert sorted(pip_section["pip"]) == sorted(expected)
    assert "python=3.11" in conda


def test_tensorflow_and_xgboost_come_only_from_one_extra():
    """The base names neither, so installing `cpu` or `gpu` gives exactly one build of each."""
    spec = project()
    names = lambda reqs: {canonical(Requirement(r).name) for r in reqs}
    assert not names(spec["dependencies"]) & (TENSORFLOW | XGBOOST)
    for extra in ("cpu", "gpu"):
        extra_names = names(spec["optional-dependencies"][extra])
        assert len(extra_names & TENSORFLOW) == 1 and len(extra_names & XGBOOST) == 1, extra
    gpu = {Requirement(r).name: Requirement(r) for r in spec["optional-dependencies"]["gpu"]}
    assert "and-cuda" in gpu["tensorflow"].extras and "xgboost" in gpu


def test_lock_pins_every_declared_requirement_inside_its_range():
    spec = project()
    text = (REPO_ROOT / "requirements.lock").read_text()
    pins = locked_pins(text)
    declared = spec["dependencies"] + [r for extra in LOCKED_EXTRAS for r in spec["optional-dependencies"][extra]]
    for line in declared:
        requirement = Requirement(line)
        name = canonical(requirement.name)
        assert name in pins, f"{name} is declared but not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(Version(pins[name]), prereleases=True), (
            f"requirements.lock pins {name}=={pins[name]}, outside pyproject.toml's {requirement}: run `make lock`"
        )
    assert len(set(pins) & TENSORFLOW) == 1 and len(set(pins) & XGBOOST) == 1, sorted(
        set(pins) & (TENSORFLOW | XGBOOST)
    )
    assert "physml" not in pins  # physml itself installs from the checkout (pip install --no-deps -e .)
    # made for the platform and Python that `make install` serves, by `make lock`'s command
    header = "\n".join(line for line in text.splitlines()[:5] if line.startswith("#"))
    for flag in ("--python-version 3.11", "--python-platform x86_64-manylinux_2_28", "--generate-hashes"):
        assert flag in header
    assert all(f"--extra {extra}" in header for extra in LOCKED_EXTRAS)
    # every pin carries hashes, so `pip install -r requirements.lock` checks each file it downloads
    assert text.count("--hash=sha256:") >= len(pins)


def test_make_installs_from_the_lock():
    makefile = (REPO_ROOT / "Makefile").read_text()
    target = makefile.split("$(BIN)/.installed:", 1)[1].split("\n\n", 1)[0]
    assert "requirements.lock" in target.splitlines()[0] and "pyproject.toml" in target.splitlines()[0]
    assert "pip install --quiet -r requirements.lock" in target and "pip install --quiet --no-deps -e ." in target
    assert "\nlock:" in makefile


def test_pinned_names_the_installed_distribution():
    from physml.errors import PhysmlError
    from physml.tracking.runs import pinned

    pins = dict(pin.split("==") for pin in pinned("tensorflow", "xgboost", "yaml", "mlflow", "sklearn"))
    (tensorflow,) = set(pins) & TENSORFLOW
    (xgboost,) = set(pins) & XGBOOST
    assert pins[tensorflow] == version(tensorflow) and pins[xgboost] == version(xgboost)
    assert pins["pyyaml"] == version("pyyaml") and pins["mlflow"] == version("mlflow")
    assert pins["scikit-learn"] == version("scikit-learn")
    if canonical(tensorflow) == "tensorflow-cpu":  # `make install`'s environment: the `cpu` extra
        assert xgboost == "xgboost-cpu"
    assert pinned("scikit-learn") == [f"scikit-learn=={version('scikit-learn')}"]  # a distribution's name
    with pytest.raises(PhysmlError, match="no_such_module_physml"):
        pinned("numpy", "no_such_module_physml")


def test_the_env_hash_names_the_lock_only_when_installed_from_it():
    from physml.tracking.lineage import installed_from

    assert installed_from(f"numpy=={version('numpy')} \\\n    --hash=sha256:00\nPyYAML=={version('pyyaml')}\n")
    assert not installed_from("numpy==0.0.1\n") and not installed_from("# nothing pinned\n")


def test_a_missing_tensorflow_is_one_line(monkeypatch, capsys):
    from physml import cli
    from physml.cli import guide

    def needs_tensorflow(args):
        import tensorflow  # noqa: F401

    monkeypatch.setitem(sys.modules, "tensorflow", None)  # `import tensorflow` fails as if not installed
    monkeypatch.setattr(guide, "cmd_next_steps", needs_tensorflow)
    assert cli.main(["next-steps"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "TensorFlow is not installed" in err
    assert "physml[cpu]" in err and "physml[gpu]" in err


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
