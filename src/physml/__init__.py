"""physml: MLflow-tracked, Ray-Tune-distributed experiments for physics and astronomy."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("physml")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
