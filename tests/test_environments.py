"""Every environment physml defines resolves to exactly one TensorFlow and one XGBoost.

A real resolver (uv's, `uv pip compile`: it resolves against the package index and installs nothing)
for CPython 3.11 on x86_64 Linux, for: the base package alone (neither), the `cpu` extra (the default),
what `make install` installs (`cpu`, `team`, `test`), the `gpu` extra (the CUDA builds), conda.yaml's
pip list (`mlflow run .`) and ray_cluster.yaml's setup (its install line, `~/physml` being this checkout).
It needs the package index; without uv it is skipped locally and fails under CI=true.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers.processes import REPO_ROOT
from tests.test_packaging import TENSORFLOW, XGBOOST, locked_pins

pytestmark = pytest.mark.integration

PLATFORM = ("--python-version", "3.11", "--python-platform", "x86_64-manylinux_2_28")
CHECKOUT = re.compile(r"^(~|\$HOME|\$\{HOME\})/physml(?=$|[/\[])")  # the cluster's copy of this checkout


def resolver() -> str:
    """uv from physml's `test` extra (the uv package), else on PATH."""
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        pass
    if found := shutil.which("uv"):
        return found
    reason = "no resolver: uv is neither installed (physml's `test` extra) nor on PATH"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason)
    pytest.skip(reason)


def resolve(requirements: list[str], constraints: list[str] = ()) -> dict[str, str]:
    """The distributions (name -> version) that `requirements` resolve to, without installing any."""
    command = [resolver(), "pip", "compile", "-", *PLATFORM, "--no-header", "--no-annotate", "--quiet"]
    for path in constraints:
        command += ["-c", path]
    done = subprocess.run(
        command, input="\n".join(requirements) + "\n", capture_output=True, text=True, timeout=180, cwd=REPO_ROOT
    )
    assert done.returncode == 0, f"{requirements} did not resolve:\n{done.stderr[-3000:]}"
    return locked_pins(done.stdout)


def cluster_install() -> tuple[list[str], list[str]]:
    """ray_cluster.yaml's setup: the requirements and constraint files of its pip install line(s)."""
    config = yaml.safe_load((REPO_ROOT / "ray_cluster.yaml").read_text())
    requirements: list[str] = []
    constraints: list[str] = []
    lines = [c for c in config["setup_commands"] if re.search(r"\bpip install\b", c)]
    assert lines, "ray_cluster.yaml's setup installs nothing"
    for line in lines:
        words = shlex.split(line.split("pip install", 1)[1])
        words = [CHECKOUT.sub(str(REPO_ROOT), word) for word in words]
        words = words[: next((k for k, w in enumerate(words) if w in ("&&", "||", ";", "|")), len(words))]
        i = 0
        while i < len(words):
            word = words[i]
            if word in ("-c", "--constraint"):
                constraints.append(words[i + 1])
                i += 2
            elif word in ("-r", "--requirement"):
                requirements.append(f"-r {words[i + 1]}")
                i += 2
            elif word in ("-e", "--editable"):
                requirements.append(words[i + 1])  # resolved the same as a plain install
                i += 2
            elif word in ("--python", "-p", "--index-url", "--extra-index-url", "--prefix", "--target"):
                i += 2  # where it installs, not what
            elif word.startswith("-"):
                i += 1  # --upgrade, --quiet, --system, ...
            else:
                requirements.append(word)
                i += 1
    return requirements, constraints


def environments() -> dict[str, tuple[list[str], list[str]]]:
    """name -> (requirements, constraint files) of each environment physml defines."""
    conda = yaml.safe_load((REPO_ROOT / "conda.yaml").read_text())["dependencies"]
    (pip_section,) = [item for item in conda if isinstance(item, dict)]
    root, lock = str(REPO_ROOT), str(REPO_ROOT / "requirements.lock")
    return {
        "base": ([root], []),
        "cpu": ([f"{root}[cpu]"], []),
        "make-install": ([f"{root}[cpu,team,bench,test]"], [lock]),  # requirements.lock, then physml --no-deps
        "gpu": ([f"{root}[gpu]"], []),
        "conda": ([root if line == "-e ." else line for line in pip_section["pip"]], []),
        "cluster": cluster_install(),
    }


@pytest.mark.parametrize("name", ["base", "cpu", "make-install", "gpu", "conda", "cluster"])
def test_one_tensorflow_and_one_xgboost(name):
    requirements, constraints = environments()[name]
    for path in constraints:
        assert Path(path).is_file(), f"the {name} environment's constraint file {path} is not in the checkout"
    pins = resolve(requirements, constraints)
    tensorflow, xgboost = sorted(set(pins) & TENSORFLOW), sorted(set(pins) & XGBOOST)
    if name == "base":  # the base names neither: the extras bring exactly one build each, never two
        assert tensorflow == [] and xgboost == [], pins
        return
    assert len(tensorflow) == 1 and len(xgboost) == 1, f"{name}: TensorFlow {tensorflow}, XGBoost {xgboost}"
    cuda = sorted(n for n in pins if n.startswith("nvidia-"))
    if name in ("gpu", "cluster"):  # the CUDA builds: TensorFlow with NVIDIA's libraries, XGBoost's plain wheel
        assert tensorflow == ["tensorflow"] and xgboost == ["xgboost"], (tensorflow, xgboost)
        assert {"nvidia-cudnn-cu12", "nvidia-cublas-cu12"} <= set(cuda), cuda
    else:
        assert tensorflow == ["tensorflow-cpu"] and xgboost == ["xgboost-cpu"] and not cuda, (tensorflow, xgboost)
    assert "ray" in pins and "aiohttp" in pins  # ray[default]: the dashboard and the Jobs API
    locked = locked_pins((REPO_ROOT / "requirements.lock").read_text())
    if name == "make-install":  # the lock is the whole resolution: nothing missing, nothing extra
        assert pins == locked
    if name == "cluster":  # every node runs the tested versions (the same Ray as the head, whenever it starts)
        assert {n: v for n, v in pins.items() if n in locked} == {n: locked[n] for n in pins if n in locked}
