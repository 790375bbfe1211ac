"""The physml command line: parse, load config, call a task. Nothing here trains or logs by itself.

One module per command family (infra: server + data, supercon, galaxy, tune, models); this module wires them up.
"""

from __future__ import annotations

import argparse
import sys

from physml.cli import galaxy, infra, models, supercon, tune
from physml.errors import PhysmlError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="physml", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    infra.add_commands(sub)
    supercon.add_commands(sub)
    galaxy.add_commands(sub)
    tune.add_commands(sub)
    models.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except PhysmlError as exc:
        print(f"physml: error: {exc}", file=sys.stderr)
        return 2
