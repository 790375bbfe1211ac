"""`ray up` for real: infra/ray_local_cluster.yaml, Ray's on-premises `local` provider over SSH, with
a head at 127.0.0.1 and a worker at 127.0.0.2 (sshd on port 2222 of both, reached through the
file's `socat` proxy command). Three physml searches go in with `ray job submit`; the MLflow server
shows their trials on both nodes, the GPU-fraction trials placed by Ray's GPU resource, and a trial
that is one net on 2 Ray Train workers with a GPU each (the worker advertises 2 GPUs and has no CUDA
device: this checks scheduling, not kernels). `ray down` ends it. Everything Ray runs, sshd
included, lives in one PID and mount namespace
(tests/helpers/isolated.py), so the `ray stop` of `ray up`/`ray down` touches nothing else."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from tests.helpers.isolated import isolated_in_background, require_isolation, run_isolated
from tests.helpers.processes import REPO_ROOT, subprocess_env
from tests.helpers.ray_nodes import NodePorts, wait_for_nodes
from tests.helpers.tuning import one_finished_run_per_trial, search_runs
from tests.helpers.workers import assert_data_parallel

pytestmark = pytest.mark.integration

SHIPPED = REPO_ROOT / "infra" / "ray_local_cluster.yaml"
HEAD, WORKER, SSH_PORT = "127.0.0.1", "127.0.0.2", 2222
VENV = Path(sys.executable).parent.parent


def cluster_config(
    tmp_path: Path, key: Path, tracking_uri: str, data_dir: Path, ports: NodePorts, gcs: int, dashboard: int
) -> Path:
    """The shipped file with this machine's addresses, user, key, ports and paths: its setup and
    start commands otherwise run as a user's would."""
    config = yaml.safe_load(SHIPPED.read_text())
    config["provider"].update(head_ip=HEAD, worker_ips=[WORKER])
    config["auth"] = {
        "ssh_user": "root",
        "ssh_private_key": str(key),
        "ssh_proxy_command": f"socat - TCP:%h:{SSH_PORT}",
    }
    config["min_workers"] = config["max_workers"] = 1
    here = {  # longest first: ~/physml-data before ~/physml
        "~/physml-data": str(data_dir),
        "~/physml/.venv": str(VENV),
        "~/physml": str(REPO_ROOT),
        "http://192.168.1.10:5000": tracking_uri,
    }

    def localise(command: str) -> str:
        for shipped, local in here.items():
            command = command.replace(shipped, local)
        return command.replace(":6379", f":{gcs}").replace("--port=6379", f"--port={gcs}")

    config["setup_commands"] = [localise(c) for c in config["setup_commands"]] + [
        "grep -q RAY_AUTH_MODE ~/.bashrc || echo 'export RAY_AUTH_MODE=disabled' >> ~/.bashrc",  # loopback only
    ]
    head_start, worker_start = (
        localise(c) for c in (config["head_start_ray_commands"][-1], config["worker_start_ray_commands"][-1])
    )
    config["head_start_ray_commands"][-1] = (
        f"{head_start} --node-ip-address={HEAD} --num-cpus=1 --dashboard-port={dashboard} {ports.flags(True, '10002-14999')}"
    )
    config["worker_start_ray_commands"][-1] = (
        f"{worker_start} --node-ip-address={WORKER} --num-cpus=2 --num-gpus=2 {ports.flags(False, '15000-19999')}"
    )
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def ssh_keys(tmp_path: Path) -> Path:
    """A client key pair and a host key, generated here; the client key is the only one authorised."""
    for name in ("client_key", "host_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / name)], check=True)
    (tmp_path / "authorized_keys").write_text((tmp_path / "client_key.pub").read_text())
    return tmp_path / "client_key"


def sshd_config(tmp_path: Path, address: str) -> Path:
    """sshd on `address`:2222 that takes the test's key as root."""
    config = tmp_path / f"sshd_{address}.conf"
    config.write_text(
        f"Port {SSH_PORT}\nListenAddress {address}\nHostKey {tmp_path / 'host_key'}\n"
        f"PidFile {tmp_path / f'sshd_{address}.pid'}\nAuthorizedKeysFile {tmp_path / 'authorized_keys'}\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "UsePAM no\nStrictModes no\nMaxStartups 50\nLogLevel ERROR\n"
    )
    return config


def wait_for_port(address: str, port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex((address, port)) == 0:
                return
        time.sleep(0.2)
    pytest.fail(f"nothing listens on {address}:{port}")


def search_command(spec: str, experiment: str, storage: Path, *extra: str) -> str:
    tune = ["physml", "tune", "supercon", "--search", "grid", "--spec", spec, "--address", "auto", "--no-retrain"]
    tune += ["--max-concurrent", "3", "--set", f"experiment={experiment}", "--storage", str(storage), *extra]
    return shlex.join(tune)


def test_ray_up_submit_and_down(mlflow_server, supercon_dir, small_grid, tmp_path):
    require_isolation()
    key = ssh_keys(tmp_path)
    ports = NodePorts()
    gcs, dashboard = ports.take(), ports.take()
    cluster = cluster_config(tmp_path, key, mlflow_server.url, supercon_dir.parent, ports, gcs, dashboard)
    cpu_spec = str(Path(small_grid(units=(16, 32, 64), learning_rates=(3e-3,), epochs=2)).rename(tmp_path / "cpu.yaml"))
    gpu_spec = str(Path(small_grid(units=(16, 32), learning_rates=(3e-3,), epochs=1)).rename(tmp_path / "gpu.yaml"))
    workers_spec = small_grid(units=(16,), learning_rates=(3e-3,), epochs=1)
    on_workers = ("--cpus-per-trial", "0", "--set", "dnn.workers=2", "--set", "dnn.gpus_per_worker=1")
    submit = f"ray job submit --address http://{HEAD}:{dashboard} --"
    logs = tmp_path / "logs"
    logs.mkdir()
    sshd = shutil.which("sshd", path=f"{os.environ['PATH']}:/usr/sbin")
    # the worker "machine": its own namespace (its start commands run `ray stop`), sshd on 127.0.0.2
    worker_node = (
        f"mkdir -p /run/sshd\n{sshd} -D -f {sshd_config(tmp_path, WORKER)} -E {logs}/sshd-worker.log &\nwait\n"
    )
    # the head "machine", where `ray up`, `ray job submit` and `ray down` run too
    script = f"""
mkdir -p /run/sshd ~/.ssh
{sshd} -f {sshd_config(tmp_path, HEAD)} -E {logs}/sshd-head.log
# `ray up` gives the head's autoscaler no proxy command: it reaches the worker through this entry
printf 'Host {HEAD} {WORKER}\\n  Port {SSH_PORT}\\n  StrictHostKeyChecking no\\n  UserKnownHostsFile /dev/null\\n' > ~/.ssh/config
trap 'ray down -y {cluster} > {logs}/down.log 2>&1; echo "down exit $?" >> {logs}/down.log' EXIT
export RAY_UP_enable_autoscaler_v2=0  # with v2 (Ray 2.60's default) the local worker never launched
ray up -y --no-config-cache {cluster} > {logs}/up.log 2>&1
{wait_for_nodes(f"{HEAD}:{gcs}", 2, logs / "nodes.json")}
python - > {logs}/dashboard.log 2>&1 <<'EOF'  # the dashboard and Jobs API answer on the head's 127.0.0.1 only
import socket, sys, ray
socket.create_connection(("{HEAD}", {dashboard}), timeout=5).close()
for address in {{ray.util.get_node_ip_address(), "{WORKER}"}} - {{"{HEAD}"}}:  # this machine's other addresses
    try:
        socket.create_connection((address, {dashboard}), timeout=5).close()
        sys.exit(f"the dashboard answers on {{address}}")
    except OSError:
        print("dashboard closed on", address)
EOF
{submit} {search_command(cpu_spec, "test-ray-up", tmp_path / "ray")} > {logs}/job-cpu.log 2>&1
{submit} {search_command(gpu_spec, "test-ray-up-gpu", tmp_path / "ray", "--gpus-per-trial", "0.5")} > {logs}/job-gpu.log 2>&1
{submit} {search_command(workers_spec, "test-ray-up-workers", tmp_path / "ray", *on_workers)} > {logs}/job-workers.log 2>&1
"""
    env = {**subprocess_env(mlflow_server.url), "RAY_AUTH_MODE": "disabled"}
    with isolated_in_background(worker_node, tmp_path / "ns-worker", env, logs / "worker-namespace.log"):
        wait_for_port(WORKER, SSH_PORT)
        result = run_isolated(script, tmp_path / "ns-head", env, timeout=600)
    journal = "\n".join(f"--- {p.name}\n{p.read_text()[-2500:]}" for p in sorted(logs.glob("*.log")))
    assert result.returncode == 0, result.stderr[-2000:] + journal
    assert "down exit 0" in (logs / "down.log").read_text(), journal
    assert f"dashboard closed on {WORKER}" in (logs / "dashboard.log").read_text(), journal
    for job in ("job-cpu", "job-gpu", "job-workers"):
        assert "succeeded" in (logs / f"{job}.log").read_text(), journal

    # three 1-CPU trials on a 1-CPU head and a 2-CPU worker: both nodes
    parent, trials, _ = search_runs(mlflow_server.url, "test-ray-up")
    finished = one_finished_run_per_trial(trials)
    assert len(finished) == 3 and parent.data.metrics["n_errored"] == 0
    assert len({t.data.tags["ray.node_id"] for t in finished}) == 2
    assert all(float(t.data.metrics["val_rmse"]) < 60 for t in finished)  # trained (the std of Tc is ~34 K)
    # half a GPU each: only the worker has GPUs, so both trials run there, on the ids Ray assigned
    parent, trials, _ = search_runs(mlflow_server.url, "test-ray-up-gpu")
    finished = one_finished_run_per_trial(trials)
    assert len(finished) == 2 and parent.data.params["search.gpus_per_trial"] == "0.5"
    nodes = json.loads((logs / "nodes.json").read_text())
    (worker,) = [node for node, resources in nodes.items() if resources.get("GPU") == 2]
    assert {t.data.tags["ray.node_id"] for t in finished} == {worker}
    for run in finished:
        assert run.data.tags["ray.gpu_ids"] in ("0", "1"), run.data.tags
        assert run.data.tags["ray.cuda_visible_devices"] == run.data.tags["ray.gpu_ids"]
    # a trial that is one net on 2 Ray Train workers with a GPU each: its driver reserves no CPU, its
    # workers both land on the worker node (the GPUs are there), on the two ids Ray has; its run is a
    # child of the search's parent; the workers checkpointed to the trial's folder on the search's storage
    parent, trials, _ = search_runs(mlflow_server.url, "test-ray-up-workers")
    (trial,) = one_finished_run_per_trial(trials)
    tags = trial.data.tags
    assert parent.info.status == "FINISHED" and tags["mlflow.parentRunId"] == parent.info.run_id
    assert tags["train.workers"] == "2" and tags["train.gpus_per_worker"] == "1.0"
    assert {tags[f"train.worker.{rank}.node_id"] for rank in (0, 1)} == {worker}
    assert sorted(tags[f"train.worker.{rank}.gpus"] for rank in (0, 1)) == ["0", "1"]
    assert_data_parallel(MlflowClient(mlflow_server.url), trial, "val_rmse")
    assert list((tmp_path / "ray").rglob("physml-train")) and not list(
        (tmp_path / "ray").rglob("physml-train/*/checkpoint_*")
    )
