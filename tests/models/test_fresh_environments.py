"""Each registered model's logged requirements are complete and minimal: trained here (supercon's
linear, gbm and dnn, galaxy's CNN, each `--preset quick`), every registered version is downloaded
and loaded, with `mlflow.pyfunc.load_model`, in a fresh environment built from this machine's Python
3.11 with nothing but its own requirements.txt (one environment per distinct set; no physml: the
model ships its source). There it predicts on its input example (and supercon's on two formulas'
features) exactly as it does here, imports physml from the model's own `code/` folder, and imports
a module of every distribution its requirements name (none is there for nothing).

The environments need a package index (uv's cache makes later runs fast); with none reachable the
test is skipped, saying so, and fails under CI=true. The fast test below checks the same for the
TensorFlow-free supercon models without an index or a server: tiny ones, saved as training logs
them, load in a separate process of this environment importing only what their requirements bring.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from physml.cli import main
from tests.helpers import fresh_env

PREFIX = "fresh-env"
FORMULAS = ["YBa2Cu3O7", "MgB2"]


@pytest.fixture
def registered_versions(tracking, supercon_dir, galaxy_dir) -> list:
    """Train every registered model quickly (figures and SHAP off: they do not touch the model) under
    names of this test's own; the versions these runs registered."""
    supercon = ["supercon", "train", "--model", "all", "--preset", "quick", "--data-dir", str(supercon_dir)]
    supercon += ["--experiment", f"{PREFIX}-supercon", "--set", "evaluation.explain=false"]
    supercon += ["--set", "evaluation.plots=false"]
    for model in ("linear", "gbm", "dnn"):
        supercon += ["--set", f"registry.names.{model}={PREFIX}-supercon-{model}"]
    galaxy = ["galaxy", "train", "--preset", "quick", "--data-dir", str(galaxy_dir), "--experiment", f"{PREFIX}-galaxy"]
    galaxy += ["--set", "evaluation.network_views=false", "--set", f"registry.name={PREFIX}-galaxy-cnn"]
    assert main(supercon) == 0
    assert main(galaxy) == 0
    client = MlflowClient(tracking)
    experiments = [client.get_experiment_by_name(f"{PREFIX}-{task}").experiment_id for task in ("supercon", "galaxy")]
    run_ids = {run.info.run_id for run in client.search_runs(experiments)}
    versions = [v for v in client.search_model_versions(f"name LIKE '{PREFIX}-%'") if v.run_id in run_ids]
    assert sorted(v.name for v in versions) == sorted(
        f"{PREFIX}-{name}" for name in ("supercon-linear", "supercon-gbm", "supercon-dnn", "galaxy-cnn")
    )
    return versions


def formula_rows(folder: Path, path: Path) -> Path | None:
    """A supercon model's input for FORMULAS (physml's featuriser, the signature's columns) as JSON."""
    from mlflow.models import Model

    from physml.tasks.composition.formula import featurise_formulas

    schema = Model.load(folder).get_input_schema()
    if schema is None or not schema.has_input_names():
        return None
    features = featurise_formulas(FORMULAS)[schema.input_names()].reset_index(drop=True)
    rows = {
        "columns": list(features.columns),
        "dtypes": {column: str(dtype) for column, dtype in features.dtypes.items()},
        "data": features.to_numpy(dtype=object).tolist(),
    }
    path.write_text(json.dumps(rows))
    return path


@pytest.mark.integration
def test_every_registered_model_loads_from_its_own_requirements_alone(
    registered_versions, tracking, tmp_path, monkeypatch
):
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    models: dict[str, Path] = {}
    for version in registered_versions:
        uri = f"models:/{version.name}/{version.version}"
        models[uri] = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / "models" / version.name)))

    # one environment per distinct requirement set (the same lines in any order are the same environment)
    groups: dict[frozenset[str], list[str]] = {}
    for uri, folder in models.items():
        lines = frozenset(line.strip() for line in (folder / "requirements.txt").read_text().splitlines())
        groups.setdefault(lines - {""}, []).append(uri)
        assert (folder / "code" / "physml").is_dir(), f"{uri} does not ship physml's source"
        python_env = (folder / "python_env.yaml").read_text()
        assert f"python: {sys.version_info.major}.{sys.version_info.minor}." in python_env, (
            f"{uri} was logged for another Python: {python_env}"
        )

    loader = fresh_env.write_loader(tmp_path / "loader.py")
    timings, running = [], []
    for index, (lines, uris) in enumerate(sorted(groups.items(), key=lambda group: len(group[0]))):  # small first
        requirements = tmp_path / f"env{index}-requirements.txt"
        requirements.write_text("\n".join(sorted(lines)) + "\n")
        venv = tmp_path / f"env{index}"
        seconds = fresh_env.build_env(venv, requirements)
        timings.append((sorted(lines), uris, seconds))
        for uri in uris:  # start the loaders as soon as their environment is there
            name = models[uri].name
            rows = formula_rows(models[uri], tmp_path / f"{name}-rows.json")
            out, log = tmp_path / f"{name}-fresh.json", tmp_path / f"{name}-fresh.log"
            process = fresh_env.start_loader(venv / "bin" / "python", loader, models[uri], rows, out, log)
            running.append((uri, rows, out, log, process, time.time()))

    # the reference: each model loaded here, in physml's own environment, while the fresh ones load
    here = {uri: fresh_env.model_outputs(str(models[uri]), str(rows) if rows else None) for uri, rows, *_ in running}
    problems = []
    for uri, _rows, out, log, process, started in running:
        folder = models[uri]
        try:
            code = process.wait(timeout=fresh_env.LOAD_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            code = "timed out"
        if code != 0:
            problems.append(f"{uri} does not load from its own requirements ({code}):\n{log.read_text()[-3000:]}")
            continue
        seconds = out.stat().st_mtime - started
        fresh = json.loads(out.read_text())
        # physml came from the model's own code folder, not from an installed copy
        assert fresh["physml_before"] is None, f"{uri}: physml is installed in the fresh environment"
        assert Path(fresh["physml_file"]).is_relative_to(folder / "code"), fresh["physml_file"]
        for name, table in here[uri]["outputs"].items():
            theirs = fresh["outputs"][name]
            assert theirs["columns"] == table["columns"], (uri, name)
            np.testing.assert_allclose(
                np.asarray(theirs["values"]), np.asarray(table["values"]), rtol=1e-6, atol=0, err_msg=f"{uri} {name}"
            )
        # minimal: each requirement is there for a module that loading and predicting import
        imported = {fresh_env.canonical(dist) for dists in fresh["modules"].values() for dist in dists}
        needless = [
            name
            for name in fresh_env.requirement_names((folder / "requirements.txt").read_text())
            if name not in imported
        ]
        if needless:
            problems.append(f"{uri} requires {needless}, which loading and predicting never import")
        print(f"{uri}: loaded and predicted in {seconds:.1f} s (its process); physml {fresh['physml_modules']}")
    for lines, uris, seconds in timings:
        print(f"environment {lines} for {uris}: built in {seconds:.1f} s")
    assert not problems, "\n\n".join(problems)


def module_level_imports(path: Path) -> set[str]:
    """The modules `path` imports when it is imported: its module-level and class-level import
    statements (inside `if`/`try` too, not in functions, not under `if TYPE_CHECKING`)."""
    import ast

    found: set[str] = set()

    def visit(statements) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)  # a submodule, if one
            elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
            elif isinstance(node, ast.ClassDef | ast.If | ast.Try | ast.With):
                for field in ("body", "orelse", "finalbody", "handlers"):
                    visit(getattr(node, field, []))
            elif isinstance(node, ast.ExceptHandler):
                visit(node.body)

    visit(ast.parse(path.read_text()).body)
    return found


def third_party_imports_on_loading(served: Path) -> dict[str, str]:
    """The third-party top-level modules that importing `served` imports at module level, following
    physml's own modules (and the packages above each); module -> the physml file that imports it."""
    from physml.tracking.lineage import SOURCE_DIR

    def source(module: str) -> Path | None:
        folder = SOURCE_DIR.joinpath(*module.split(".")[1:])
        return next((path for path in (folder / "__init__.py", folder.with_suffix(".py")) if path.exists()), None)

    outside: dict[str, str] = {}
    seen: set[Path] = set()
    todo = [served]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in module_level_imports(path):
            top = module.split(".")[0]
            if top == "physml":
                names = module.split(".")
                todo += [found for n in range(1, len(names) + 1) if (found := source(".".join(names[:n])))]
            elif top not in sys.stdlib_module_names and top != "__future__":
                outside.setdefault(top, str(path.resolve().relative_to(SOURCE_DIR.parent)))
    return outside


def test_what_loading_imports_at_module_level_comes_with_every_model_kind():
    """Loading a model runs its served.py, which imports physml's modules; whatever those import at
    module level (whichever model kind loads) must come with the smallest requirement list the
    served.py is logged with: a heavy import there (TensorFlow, scikit-learn, tqdm, ...) reaches every
    model. The imports each kind makes lazily are the integration test's above."""
    from importlib.metadata import packages_distributions

    from physml.tasks.composition.models import MODELS
    from physml.tasks.galaxy.train import REQUIREMENTS as GALAXY
    from physml.tasks.galaxy.train import SERVED as GALAXY_SERVED
    from physml.tasks.supercon.train import SERVED as SUPERCON_SERVED
    from physml.tracking.runs import pinned

    provided = packages_distributions()
    smallest = min((spec.requirements for spec in MODELS.values()), key=len)
    for served, requirements in ((SUPERCON_SERVED, smallest), (GALAXY_SERVED, GALAXY)):
        brought = fresh_env.closure([pin.split("==")[0] for pin in pinned(*requirements)])
        imports = third_party_imports_on_loading(served)
        assert "mlflow" in imports and "numpy" in imports, imports  # the walk finds what it must
        missing = {
            module: where
            for module, where in imports.items()
            if not brought & {fresh_env.canonical(dist) for dist in provided.get(module, [module])}
        }
        assert not missing, f"{served.name} with {requirements}: imported at module level but not required: {missing}"
