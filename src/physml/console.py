"""What a person sees in the terminal: libraries' start-up noise off by default (`-v` brings it back),
and commands printed in a form that runs as printed from a fresh shell in the checkout."""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from pathlib import Path

# Set before TensorFlow, absl or MLflow are imported (every command imports them lazily).
QUIET = {
    "TF_CPP_MIN_LOG_LEVEL": "2",  # TensorFlow's C++ INFO/WARNING lines: oneDNN, cpu_feature_guard, ...
    "GRPC_VERBOSITY": "ERROR",  # absl/gRPC's "All log messages before absl::InitializeLog() ..."
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",  # one bar update per file of a model download
    "MLFLOW_LOGGING_LEVEL": "WARNING",  # "View run ... at", "Created version ..."
}
VERBOSE = {"TF_CPP_MIN_LOG_LEVEL": "0", "MLFLOW_LOGGING_LEVEL": "INFO"}


def quiet_libraries(verbose: bool = False) -> dict[str, str]:
    """Quiet TensorFlow, absl and MLflow (unless `verbose` or the user set a variable); returns the
    variables this process now has, for Ray workers to get the same."""
    if verbose:
        os.environ.update(VERBOSE)
        os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "true"
    else:
        for name, value in QUIET.items():
            os.environ.setdefault(name, value)
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
