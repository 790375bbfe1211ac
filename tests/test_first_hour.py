"""A newcomer's first hour: every next step that `make demo`, `make team-demo`, the README's first
screen and the CLI print runs as printed from a fresh shell in the checkout (no virtualenv on PATH,
`env -i`), and the output carries no library start-up noise while the progress bars stay.

The demo's own commands run on the quick preset; PHYSML_HOME keeps the test's server apart from a
user's ./.physml, and PHYSML_DATA_DIR is set as the Makefile sets it."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.helpers.processes import REPO_ROOT, free_port

NOISE = ("oneDNN custom operations", "cpu_feature_guard", "absl::InitializeLog", "Downloading artifacts")


def fresh_shell(line: str, home: Path, data_root: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "PHYSML_HOME": str(home),
        "PHYSML_CACHE_DIR": str(home / "cache"),
        "PHYSML_DATA_DIR": str(data_root),
    }
    return subprocess.run(
        ["env", "-i", *(f"{k}={v}" for k, v in env.items()), "bash", "-c", line],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def readme_first_screen() -> list[str]:
    """The command lines of the README block that follows "each runs as printed"."""
    text = (REPO_ROOT / "README.md").read_text()
    block = text[text.index("each runs\nas printed") :].split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


def makefile_echoes(target: str) -> list[str]:
    """The commands a Makefile target tells the user to run ("...: COMMAND" in its echo lines)."""
    text = (REPO_ROOT / "Makefile").read_text()
    recipe = text.split(f"\n{target}:", 1)[1].split("\n\n", 1)[0]
    return [m.group(1).strip() for m in re.finditer(r'@echo ".*?with: ([^"]+)"', recipe)]


@pytest.mark.integration
def test_every_printed_next_step_runs_as_printed(tmp_path, data_root):
    home = tmp_path / "physml-home"
    port = free_port()
    physml = ".venv/bin/physml"
    outputs = []

    def run(line: str, expected=(0,), timeout: int = 600) -> str:
        result = fresh_shell(line, home, data_root, timeout)
        output = result.stdout + result.stderr
        outputs.append(output)
        assert result.returncode in expected, f"{line}\n-> exit {result.returncode}\n{output[-3000:]}"
        return result.stdout

    try:
        started = run(f"{physml} server start --port {port}")
        (export,) = [line for line in started.splitlines() if line.strip().startswith("export ")]
        run(f"{export.strip()} && {physml} server status")  # the export line works as printed
        run(f"{physml} supercon train --model all --preset quick")
        run(f"{physml} galaxy train --preset quick")

        steps = run(f"{physml} next-steps")
        commands = [
            line.strip() for line in steps.splitlines()[1:] if line.strip() and not line.strip().startswith("#")
        ]
        assert commands == readme_first_screen(), "the README's first screen and `physml next-steps` disagree"
        for command in commands:
            run(command, expected=(0, 1) if " promote " in command else (0,))  # promote: 1 = not promoted
        assert "no embedded MLflow server is running" in run(f"{physml} server status", expected=(1,))

        for line in makefile_echoes("team-demo"):  # "make team-down"
            run(line)
        run("infra/team-stack.sh status", expected=(1,))  # finds the venv's physml; no stack: exit 1
    finally:
        fresh_shell(f"{physml} server stop", home, data_root)

    text = "\n".join(outputs)
    for noise in NOISE:
        assert noise not in text, f"{noise!r} was printed"
    for bar in ("dnn epochs", "check JPEGs", "decode JPEGs", "cnn epochs"):
        assert bar in text, f"the {bar!r} progress bar is missing"


def test_every_next_step_is_a_physml_command_line():
    """Each step parses as physml's own command line (fast: no server, nothing runs)."""
    from physml.cli import build_parser
    from physml.cli.guide import next_steps

    parser = build_parser()
    steps = next_steps()
    assert len(steps) >= 5
    for _, command in steps:
        assert callable(parser.parse_args(command.split()[1:]).func), command
