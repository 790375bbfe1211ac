"""Helpers shared by the command modules."""

from __future__ import annotations

import argparse
import math
from typing import TypeVar

from physml.tracking.project_run import experiment_from_env as experiment_from_env
from physml.tracking.project_run import within_project_run as within_project_run

T = TypeVar("T")


def add_tracking_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show libraries' start-up and progress logs",
    )
    parser.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else the embedded server, started if needed)",
    )
    parser.add_argument(
        "--port", type=int, default=5000, help="port of the embedded server if it must start (default 5000)"
    )


def none_if_empty(value: str | None) -> str | None:
    """MLproject passes empty strings for unset parameters."""
    return value if value not in (None, "", "none", "None") else None


def optional_int(text: str) -> int | None:
    """A whole-number flag that MLproject may pass as an empty string (unset); 2.7 is refused, not truncated."""
    if not none_if_empty(text):
        return None
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not number.is_integer():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    return int(number)


def optional_float(text: str) -> float | None:
    if not none_if_empty(text):
        return None
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return number


def at_least(minimum: float, kind=optional_int):
    """A flag type: `kind`, and at least `minimum` (or unset)."""

    def parse(text: str):
        value = kind(text)
        if value is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} is below the minimum {minimum:g}")
        return value

    parse.__name__ = kind.__name__
    return parse


def collect_overrides(flags: dict, args: argparse.Namespace) -> dict:
    """Config overrides from flags that were given, `--no-register` and every `--set KEY=VALUE`."""
    from physml.config import parse_override

    overrides = {key: value for key, value in flags.items() if value is not None}
    if getattr(args, "no_register", False):
        overrides["registry.register"] = False
    overrides.update(dict(parse_override(text) for text in getattr(args, "set", None) or []))
    return overrides
