"""Fresh virtual environments holding only a logged model's own requirements, and what a model
predicts when loaded in one.

An environment is built from this machine's Python 3.11 (the interpreter the test's own venv was made
from; nothing is downloaded: no pyenv, no uv-managed Python) with uv (`uv venv` + `uv pip install`,
reading the package index the way pip here is configured, and uv's own cache, so the environments of
one run share their downloads), else with `venv --without-pip` and the test venv's pip (`pip
--python`). Nothing else goes in: no physml (the model ships its source), no system site-packages.

`load_and_predict` (the loader, run by the fresh environment's Python) loads a model folder with
`mlflow.pyfunc.load_model`, predicts on its input example (and on rows given in a JSON file), and
reports the predictions, the modules loading imported with the distributions providing them, and
where physml came from. `model_outputs` runs the same code in this process, for the reference predictions.
"""

from __future__ import annotations

import inspect
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

INSTALL_TIMEOUT = 900  # a cold cache downloads TensorFlow (~250 MB)
LOAD_TIMEOUT = 300


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(text: str) -> list[str]:
    """The distributions a requirements.txt names (canonical), in order."""
    lines = [line.split("#")[0].strip() for line in text.splitlines()]
    return [canonical(re.split(r"[\s<>=!~;\[@]", line, maxsplit=1)[0]) for line in lines if line and line[0] != "-"]


def closure(names: list[str]) -> set[str]:
    """`names` and every distribution they require, transitively, as installed here (canonical names;
    markers evaluated for this Python, no extras)."""
    from importlib.metadata import PackageNotFoundError, requires

    from packaging.requirements import Requirement

    found: set[str] = set()
    todo = [canonical(name) for name in names]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        try:
            needs = requires(name) or []
        except PackageNotFoundError:
            continue
        for line in needs:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(canonical(requirement.name))
    return found


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def base_python() -> str:
    """The Python 3.11 this machine has: the interpreter the running venv was made from."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (Path(sys.base_prefix) / "bin" / f"python{version}", Path(sys.base_prefix) / "bin" / "python3"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which(f"python{version}")
    assert found, f"no python{version} on this machine (sys.base_prefix {sys.base_prefix})"
    return found


def uv_binary() -> str | None:
    """uv from physml's `test` extra (the uv package), else beside this Python, else on PATH."""
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        pass
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.exists() else shutil.which("uv")


def pip_config() -> dict[str, list[str]]:
    """pip's configured index-url, extra-index-url, find-links and cert (files and PIP_* variables)."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, timeout=60, check=False
    )
    found: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition("=")
        option = key.rsplit(".", 1)[-1]
        if option in ("index-url", "extra-index-url", "find-links", "cert"):
            values = value.strip().strip("'\"").split()
            found[option] = list(dict.fromkeys([*found.get(option, []), *values]))
    return found


def uv_index_options() -> tuple[list[str], dict[str, str]]:
    """uv's options (and environment) for the indexes pip is configured with, unless uv has its own
    (UV_* variables). pip takes the best version over all its indexes: so does uv here
    (`unsafe-best-match`), so a local mirror that holds older releases does not shadow the index."""
    if any(os.environ.get(name) for name in ("UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX", "UV_EXTRA_INDEX_URL")):
        return [], {}
    config = pip_config()
    options: list[str] = []
    for url in config.get("index-url", [])[:1]:
        options += ["--default-index", url]
    for url in config.get("extra-index-url", []):
        options += ["--extra-index-url", url]
    for url in config.get("find-links", []):
        options += ["--find-links", url]
    if config.get("extra-index-url"):
        options += ["--index-strategy", "unsafe-best-match"]
    env = {}
    if config.get("cert") and not os.environ.get("SSL_CERT_FILE"):
        env["SSL_CERT_FILE"] = config["cert"][0]
    return options, env


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without the test venv (PATH, VIRTUAL_ENV, PYTHON*) or a tracking
    server: a model folder loads without one."""
    venv_bin = str(Path(sys.executable).parent)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "MLFLOW_", "CONDA")) and key != "VIRTUAL_ENV"
    }
    env["PATH"] = os.pathsep.join(part for part in env.get("PATH", "").split(os.pathsep) if part != venv_bin)
    env.update(UV_PYTHON_DOWNLOADS="never", TF_CPP_MIN_LOG_LEVEL="2", **(extra or {}))
    return env


def index_unreachable(project: str) -> str | None:
    """Why neither uv nor pip can list `project` on a package index (None: one of them can)."""
    reasons = []
    uv = uv_binary()
    if uv:
        options, extra = uv_index_options()
        done = subprocess.run(
            [uv, "pip", "compile", "-", "--no-deps", "--refresh", "--quiet", "--no-header", *options],
            input=f"{project}\n",
            capture_output=True,
            text=True,
            timeout=180,
            env=clean_env(extra),
            cwd=tempfile.gettempdir(),  # no project's uv settings
        )
        if done.returncode == 0:
            return None
        reasons.append(f"uv: {done.stderr.strip()[-300:]}")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", project], capture_output=True, text=True, timeout=300
    )
    if done.returncode == 0:
        return None
    reasons.append(f"pip: {done.stderr.strip()[-300:]}")
    return f"no package index reachable for {project!r} ({'; '.join(reasons)})"


def build_env(folder: Path, requirements: Path) -> float:
    """A fresh venv at `folder` from `base_python()` holding `requirements` and what they need; the
    seconds it took. A failure fails the test, unless no index is reachable (then: skip, and fail
    under CI=true)."""
    started = time.monotonic()
    uv = uv_binary()
    if uv:
        options, extra = uv_index_options()
        env = clean_env(extra)
        steps = [
            [uv, "venv", "--quiet", "--no-python-downloads", "--python", base_python(), str(folder)],
            [uv, "pip", "install", "--quiet", "--python", str(folder / "bin" / "python"), "-r", str(requirements)],
        ]
        steps[1] += options
    else:
        env = clean_env()
        steps = [
            [base_python(), "-m", "venv", "--without-pip", str(folder)],
            [sys.executable, "-m", "pip", "--python", str(folder / "bin" / "python"), "install", "-q"]
            + ["--no-input", "-r", str(requirements)],
        ]
    for command in steps:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, env=env, cwd=folder.parent
        )
        if done.returncode != 0:
            first = requirement_names(requirements.read_text())[0]
            why = index_unreachable(first)
            if why and not in_ci():
                pytest.skip(why)
            pytest.fail(
                f"cannot build a fresh environment from {requirements}{f' ({why})' if why else ''}:\n"
                f"$ {' '.join(command)}\n{done.stderr[-4000:]}"
            )
    return time.monotonic() - started


# The loader: stdlib, numpy, pandas and mlflow only, as it runs in the fresh environment too. These two
# functions are copied into its script (inspect.getsource), so both sides run the same code.


def as_table(output) -> dict:
    """A prediction as {columns, values} (float64 lists: JSON keeps every bit of a float64)."""
    import numpy as np
    import pandas as pd

    if isinstance(output, pd.DataFrame):
        return {"columns": [str(c) for c in output.columns], "values": output.to_numpy(dtype="float64").tolist()}
    return {"columns": None, "values": np.asarray(output, dtype="float64").tolist()}


def model_outputs(folder: str, rows_file: str | None = None) -> dict:
    """Load the model at `folder` as MLflow serves it; its predictions on its input example (and on
    the rows in `rows_file`: {columns, dtypes, data}), the top-level modules loaded afterwards that
    an installed distribution provides (module -> those distributions), and where physml came from."""
    import importlib.util
    import json
    import sys
    from importlib.metadata import packages_distributions

    import mlflow.pyfunc
    import pandas as pd
    from mlflow.models import Model

    physml_before = importlib.util.find_spec("physml")
    model = mlflow.pyfunc.load_model(folder)
    example = Model.load(folder).load_input_example(folder)
    inputs = {} if example is None else {"example": example}
    if rows_file:
        with open(rows_file) as file:
            rows = json.load(file)
        inputs["rows"] = pd.DataFrame(rows["data"], columns=rows["columns"]).astype(rows["dtypes"])
    outputs = {name: as_table(model.predict(value)) for name, value in inputs.items()}
    provided = packages_distributions()
    imported = sorted({name.split(".")[0] for name in list(sys.modules)} & set(provided))
    physml = sys.modules.get("physml")
    return {
        "outputs": outputs,
        "modules": {module: sorted(provided[module]) for module in imported},
        "physml_file": getattr(physml, "__file__", None),
        "physml_before": getattr(physml_before, "origin", None),
        "physml_modules": sorted(name for name in sys.modules if name.startswith("physml")),
    }


LOADER_MAIN = """

if __name__ == "__main__":
    import json, sys

    folder, rows_file, out = sys.argv[1], sys.argv[2] or None, sys.argv[3]
    with open(out, "w") as file:
        json.dump(model_outputs(folder, rows_file), file)
"""


def write_loader(path: Path) -> Path:
    path.write_text("\n\n".join(inspect.getsource(f) for f in (as_table, model_outputs)) + LOADER_MAIN)
    return path


def start_loader(python: Path, loader: Path, folder: Path, rows_file: Path | None, out: Path, log: Path):
    """The loader on `folder` in the fresh environment's `python` (isolated mode, run from `out`'s
    folder), in the background: its stdout and stderr go to `log`."""
    with log.open("w") as sink:
        return subprocess.Popen(
            [str(python), "-I", str(loader), str(folder), str(rows_file or ""), str(out)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=clean_env(),
            cwd=out.parent,
        )
