"""What a person sees in the terminal: libraries' start-up noise off by default (`-v` brings it back),
and commands printed in a form that runs as printed from a fresh shell in the checkout."""

from __future__ import annotations

import copy
import importlib
import importlib.abc
import os
import re
import shutil
import sys
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

# Set before TensorFlow, absl or MLflow are imported (every command imports them lazily).
QUIET = {
    "TF_CPP_MIN_LOG_LEVEL": "2",  # TensorFlow's C++ INFO/WARNING lines: oneDNN, cpu_feature_guard, ...
    "GRPC_VERBOSITY": "ERROR",  # absl/gRPC's "All log messages before absl::InitializeLog() ..."
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",  # one bar update per file of a model download
    "MLFLOW_LOGGING_LEVEL": "WARNING",  # "Created version ...", "Waiting up to 300 seconds ..."
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",  # "View run ... at" per run: physml prints one UI link
    # Tune's "Experiment state snapshotting has been triggered multiple times ..." (3 lines, every few
    # seconds): a trial checkpoints with each report on purpose (tuning/search.py), so it is no news
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
}
VERBOSE = {
    "TF_CPP_MIN_LOG_LEVEL": "0",
    "MLFLOW_LOGGING_LEVEL": "INFO",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "false",
}
# What TensorFlow's C++ side prints while it loads, through absl before absl is initialised, so that
# TF_CPP_MIN_LOG_LEVEL does not reach it (TensorFlow 2.21); dropped from stderr during the import.
IMPORT_NOISE = re.compile(
    r"oneDNN custom operations are on|cpu_feature_guard|All log messages before absl::InitializeLog|"
    r"rebuild TensorFlow with the appropriate compiler flags|Unable to register cu(DNN|FFT|BLAS) factory|"
    r"computation placer already registered|TF-TRT Warning|Could not find cuda drivers"
)


@contextmanager
def stderr_without(noise: re.Pattern):
    """Capture file descriptor 2 (C++ libraries write there directly) and pass on what is not noise."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors="replace").splitlines(keepends=True):
                if not noise.search(line):
                    sys.stderr.write(line)
            sys.stderr.flush()


class QuietImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports `name` (the first time anything imports it) with its start-up noise filtered out.

    The real import runs inside `find_spec`; the import system then gets a copy of the module's own
    spec whose loader hands back the module already loaded, so nothing runs twice."""

    def __init__(self, name: str):
        self.name = name

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        with stderr_without(IMPORT_NOISE):
            module = importlib.import_module(fullname)
        spec = copy.copy(module.__spec__)
        spec.loader = self
        return spec

    def create_module(self, spec):
        return sys.modules[spec.name]

    def exec_module(self, module) -> None:
        """Already executed by the real import."""


def quiet_libraries(verbose: bool = False) -> dict[str, str]:
    """Quiet TensorFlow, absl and MLflow (unless `verbose` or the user set a variable); returns the
    variables this process now has, for Ray workers to get the same."""
    if verbose:
        os.environ.update(VERBOSE)
        os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "true"
    else:
        for name, value in QUIET.items():
            os.environ.setdefault(name, value)
        if "tensorflow" not in sys.modules and not any(isinstance(f, QuietImport) for f in sys.meta_path):
            sys.meta_path.insert(0, QuietImport("tensorflow"))
        warnings.filterwarnings("ignore", category=UserWarning, module=r"mlflow(\.|$)")
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning, module=r"shap(\.|$)")
    return {name: os.environ[name] for name in QUIET if name in os.environ}


def physml_command() -> str:
    """How to run this physml from a fresh shell in the current folder: `.venv/bin/physml` when the
    virtualenv lies below it, `physml` when that is the one on PATH, else the full path."""
    executable = Path(sys.executable).parent / "physml"
    try:
        relative = executable.relative_to(Path.cwd())
        return f"./{relative}" if relative.parent == Path(".") else str(relative)
    except ValueError:
        pass
    on_path = shutil.which("physml")
    if on_path and Path(on_path).resolve() == executable.resolve():
        return "physml"
    return str(executable)


USERINFO = re.compile(r"(?<=://)([^/\s@:]*)(:[^/\s@]*)?@")


def redacted(text: str) -> str:
    """`text` with the secret in every URI's user info masked (`user:***@`; a lone user part, which
    may be a token, `***@`): what physml prints, tags or stores never holds a credential."""
    return USERINFO.sub(lambda found: f"{found.group(1)}:***@" if found.group(2) is not None else "***@", text)
