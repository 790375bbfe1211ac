"""Where a run's process runs: its host, pid, pid namespace and start time, tagged on every run
(tracking/runs.py standard_tags), so a later process on the same host can tell whether that one still
runs (a reused pid, or a pid of another container's namespace, is not taken for it)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

HOST, PID, PID_NAMESPACE, PID_START = "physml.host", "physml.pid", "physml.pid_ns", "physml.pid_start"


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


def local_pid(tags: dict[str, str]) -> int | None:
    """The pid of a run opened on this host, in this pid namespace; None for any other run."""
    if tags.get(HOST) != socket.gethostname() or tags.get(PID_NAMESPACE, "") != pid_namespace():
        return None
    pid = tags.get(PID, "")
    return int(pid) if pid.isdigit() else None


def ours_and_gone(tags: dict[str, str]) -> bool:
    """A run opened on this host, in this pid namespace, by a process that is gone."""
    pid = local_pid(tags)
    return pid is not None and pid != os.getpid() and gone(pid, tags.get(PID_START, ""))


def alive_here(tags: dict[str, str]) -> bool:
    """A run opened on this host, in this pid namespace, by a process that still runs."""
    pid = local_pid(tags)
    return pid is not None and not gone(pid, tags.get(PID_START, ""))
