"""The embedded server as others reach it (issue 38), one real server for both checks:

- one server per home, whatever starts first (tracking/server.py start: a lock on the home): two
  starters at once get the same server; asking for another port is an error, not that server;
- `--host ADDRESS --allow-remote` gives a server that answers: MLflow's Host-header check lets in this
  machine's address and host name, and refuses a foreign name (403)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.helpers.processes import free_ports


def outward_address() -> str:
    """This machine's address on its default route (no packet is sent); 0.0.0.0 when it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
            address = probe.getsockname()[0]
        except OSError:
            return "0.0.0.0"
    return "0.0.0.0" if address.startswith("127.") else address


def start_two_at_once(home: Path, host: str, port: int) -> set[str]:
    """`physml server start` twice at the same moment (real processes); the pids they report."""
    command = [str(Path(sys.executable).parent / "physml"), "server", "start", "--home", str(home)]
    command += ["--host", host, "--allow-remote", "--port", str(port)]
    starters = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [starter.communicate(timeout=180) for starter in starters]
    assert [starter.returncode for starter in starters] == [0, 0], outputs
    return {re.search(r"\(pid (\d+),", out).group(1) for out, _ in outputs}


@pytest.mark.integration
def test_one_server_per_home_and_a_remote_one_answers_its_host_name(tmp_path, capsys):
    from physml.cli import main

    host, (port, other) = outward_address(), free_ports(2)
    try:
        pids = start_two_at_once(tmp_path, host, port)
        assert len(pids) == 1  # the second waited for the first's server and used it
        address = host if host != "0.0.0.0" else "127.0.0.1"
        url = f"http://{address}:{port}/api/2.0/mlflow/experiments/search?max_results=1"
        for name in (address, socket.gethostname()):
            answer = requests.get(url, headers={"Host": f"{name}:{port}"}, timeout=10)
            assert answer.status_code == 200, (name, answer.text[:300])
        assert requests.get(url, headers={"Host": f"rebound.example.com:{port}"}, timeout=10).status_code == 403

        capsys.readouterr()
        assert main(["server", "start", "--home", str(tmp_path), "--port", str(other)]) == 2
        err = capsys.readouterr().err
        assert f"this home's server already runs at http://{host}:{port}" in err and f"not on 127.0.0.1:{other}" in err
        assert main(["server", "start", "--home", str(tmp_path)]) == 0  # no port or host asked: the running one
        assert f"running at http://{host}:{port} (pid {pids.pop()}," in capsys.readouterr().out
    finally:
        main(["server", "stop", "--home", str(tmp_path)])
