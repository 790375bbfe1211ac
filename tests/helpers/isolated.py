"""Run a bash script in its own PID and mount namespace, for tests whose commands run `ray stop`
(`ray up`, `ray down`, a node's start commands): `ray stop` kills every Ray process it can see, and
inside the namespace it sees only the script's own. The script gets an overlay over $HOME (Ray's
bootstrap files, ~/.bashrc edits and ~/.ssh/config land in the overlay, not in the real home) and a
private /tmp/ray (Ray's session folders and the `local` provider's cluster state). When the
script ends (or is killed), the kernel kills whatever it left running in the namespace.

Two Ray nodes on one machine need two namespaces: each node's start commands begin with `ray stop`."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TOOLS = ("unshare", "sshd", "ssh", "ssh-keygen", "socat", "rsync")


def why_not_isolated() -> str | None:
    """Why this machine cannot run an isolated cluster (None: it can)."""
    if os.geteuid() != 0:
        return "isolated clusters need root (unshare --mount, sshd)"
    missing = [tool for tool in TOOLS if shutil.which(tool, path=f"{os.environ['PATH']}:/usr/sbin") is None]
    if missing:
        return f"missing {', '.join(missing)} (`make test` installs openssh-server, socat and rsync from apt)"
    probe = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"unshare --pid --mount-proc failed here: {probe.stderr.strip()[:200]}"
    return None


def require_isolation() -> None:
    """Skip the calling test, saying why, where this machine cannot isolate it; under CI=true fail instead."""
    import pytest

    why = why_not_isolated()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run this test: {why}")
        pytest.skip(why)


PROLOGUE = """set -euo pipefail
mount -t overlay overlay -o lowerdir="$HOME",upperdir={root}/home-upper,workdir={root}/home-work "$HOME"
mkdir -p /tmp/ray && mount --bind {root}/ray-tmp /tmp/ray
"""


def isolated_command(script: str, root: Path) -> list[str]:
    """The command that runs `script` (bash) in a new PID and mount namespace with the overlay home
    and private /tmp/ray described above; `root` holds the overlay's folders and the script file.
    `--kill-child`: if unshare is killed, so is the namespace's first process, and with it the rest."""
    for folder in ("home-upper", "home-work", "ray-tmp"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    path = root / "isolated.sh"
    path.write_text(PROLOGUE.format(root=root) + script)
    return ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "bash", str(path)]


def run_isolated(script: str, root: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    """Run `script` isolated (see isolated_command) to its end."""
    return subprocess.run(isolated_command(script, root), env=env, capture_output=True, text=True, timeout=timeout)


@contextmanager
def isolated_in_background(script: str, root: Path, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """Run `script` isolated while the `with` block runs; then end it and all it started."""
    with log.open("w") as out:
        process = subprocess.Popen(isolated_command(script, root), env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.kill()
            process.wait(timeout=60)
