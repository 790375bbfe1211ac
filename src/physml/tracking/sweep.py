"""Runs whose process died without a word (SIGKILL, the out-of-memory killer): no handler runs, so
the run would stay RUNNING for good. Every run carries where its process ran (`physml.host`,
`physml.pid`, and the pid's namespace and start time, so a reused pid or another container's pid is
not taken for it); `sweep` ends the RUNNING runs of this host whose process is gone: FAILED with
`physml.error` "process gone ...", a Tune trial's run KILLED and `interrupted` (what `--resume` does
with a trial its killed search cut off). Runs with an entry in the spool are left to the spool.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

HOST, PID, PID_NAMESPACE, PID_START = "physml.host", "physml.pid", "physml.pid_ns", "physml.pid_start"
MAX_RUNS = 1000


def pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def start_time(pid: int) -> str:
    """When process `pid` started (clock ticks since boot, /proc/PID/stat), '' when unknown or gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def process_tags() -> dict[str, str]:
    """Where this process runs, for the run it opens."""
    pid = os.getpid()
    return {HOST: socket.gethostname(), PID: str(pid), PID_NAMESPACE: pid_namespace(), PID_START: start_time(pid)}


def gone(pid: int, started: str) -> bool:
    """Whether process `pid` (that started at `started`, when known) no longer runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # another user's: alive
    now = start_time(pid)
    return bool(started and now and now != started)  # the pid now belongs to another process


def ours_and_gone(tags: dict[str, str]) -> bool:
    """A run opened on this host, in this pid namespace, by a process that is gone."""
    if tags.get(HOST) != socket.gethostname() or tags.get(PID_NAMESPACE, "") != pid_namespace():
        return False
    pid = tags.get(PID, "")
    return pid.isdigit() and int(pid) != os.getpid() and gone(int(pid), tags.get(PID_START, ""))


def sweep(client) -> list[str]:
    """End every RUNNING run of this host whose process is gone; one line per run ended."""
    from physml.tracking import spool

    experiments = [e.experiment_id for e in client.search_experiments(max_results=MAX_RUNS)]
    if not experiments:
        return []
    host = socket.gethostname().replace("'", "")
    query = f"attributes.status = 'RUNNING' and tags.`{HOST}` = '{host}'"
    spooled = {folder.name for folder in spool.pending()}
    lines = []
    for run in client.search_runs(experiments, query, max_results=MAX_RUNS):
        tags = run.data.tags
        if run.info.run_id in spooled or not ours_and_gone(tags):
            continue
        reason = f"process gone: pid {tags[PID]} on {tags[HOST]} ended without closing the run (killed?)"
        client.set_tag(run.info.run_id, "physml.error", reason)
        status = "FAILED"
        if "ray.trial_id" in tags:  # as --resume closes a trial its killed search cut off
            client.set_tag(run.info.run_id, "interrupted", "true")
            status = "KILLED"
        elif "search.kind" in tags:  # a search's parent: --resume keeps this as search.resumed_after
            client.set_tag(run.info.run_id, "search.error", reason)
        client.set_terminated(run.info.run_id, status)
        lines.append(f"run {run.info.run_id} ({run.info.run_name}): {reason}; ended {status}")
    return lines


def sweep_quietly(tracking_uri: str) -> None:
    """`sweep` as a command's side errand: its lines on stderr; a failure is one warning, never the
    command's end."""
    import sys

    from mlflow import MlflowClient

    try:
        lines = sweep(MlflowClient(tracking_uri))
    except Exception as exc:
        print(f"physml: warning: could not look for runs left by dead processes: {exc}"[:300], file=sys.stderr)
        return
    for line in lines:
        print(f"physml: {line}", file=sys.stderr)
