"""Ray nodes side by side on one machine, each in its own namespace (tests/helpers/isolated.py):
the flags that keep their ports apart, and a script step that waits until they have all joined."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.processes import free_ports

PORT_FLAGS = (
    "node-manager-port",
    "object-manager-port",
    "metrics-export-port",
    "dashboard-agent-listen-port",
    "dashboard-agent-grpc-port",
    "runtime-env-agent-port",
)


class NodePorts:
    """Distinct ports for the Ray nodes of one test (and its GCS and dashboard), chosen at once."""

    def __init__(self, count: int = 24):
        self._free = iter(free_ports(count))

    def take(self) -> int:
        return next(self._free)

    def flags(self, head: bool, worker_ports: str) -> str:
        """`ray start` flags giving a node its own ports: two nodes share this machine's port space,
        and in separate namespaces neither sees which ports the other took. Fixed ports stay outside
        Ray's worker-port range (10002-19999), which the nodes split (`worker_ports`: "LOW-HIGH")."""
        names = [*PORT_FLAGS, "ray-client-server-port"] if head else list(PORT_FLAGS)
        low, high = worker_ports.split("-")
        chosen = " ".join(f"--{name}={self.take()}" for name in names)
        return f"{chosen} --min-worker-port={low} --max-worker-port={high}"


def wait_for_nodes(gcs_address: str, count: int, nodes_file: Path, seconds: int = 180) -> str:
    """A bash step (run on a node) that waits until `count` nodes are alive, then writes
    {node id: resources} to `nodes_file`; it exits non-zero if they never are."""
    return f"""python - <<'EOF'
import json, sys, time, ray
deadline = time.monotonic() + {seconds}
while time.monotonic() < deadline:
    ray.init(address="{gcs_address}", log_to_driver=False, configure_logging=False)
    alive = {{n["NodeID"]: n["Resources"] for n in ray.nodes() if n["Alive"]}}
    ray.shutdown()
    if len(alive) == {count}:
        open("{nodes_file}", "w").write(json.dumps(alive))
        sys.exit(0)
    time.sleep(2)
sys.exit("only %d of {count} nodes joined" % len(alive))
EOF
"""
