"""Helpers shared by the command modules."""

from __future__ import annotations

import argparse


def add_tracking_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, "
                        "else the embedded server, started if needed)")
    parser.add_argument("--port", type=int, default=5000, help="port of the embedded server if it must start")


def none_if_empty(value: str | None) -> str | None:
    """MLproject passes empty strings for unset parameters."""
    return value if value not in (None, "", "none", "None") else None


def optional_int(text: str) -> int | None:
    """An integer flag that MLproject may pass as an empty string (unset)."""
    return int(float(text)) if none_if_empty(text) else None


def optional_float(text: str) -> float | None:
    return float(text) if none_if_empty(text) else None
