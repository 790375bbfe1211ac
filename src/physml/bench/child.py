"""A benchmark's child process, waited for with a deadline and measured by the kernel (wait4)."""

from __future__ import annotations

import os
import resource
import subprocess
import time


def wait_measured(process: subprocess.Popen, timeout: float, what: str, poll: float = 0.1) -> resource.struct_rusage:
    """Wait for `process` (at most `timeout` s) and return its resource usage, whose `ru_maxrss` is its
    own peak RSS in KiB (Linux). Past the deadline, or when this script is stopped, it is killed; a
    non-zero exit is a RuntimeError naming `what`."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} ran past {timeout:.0f} s")
            time.sleep(poll)
    except BaseException:  # a time limit, or the suite stopping this script: the child goes too
        process.kill()
        os.wait4(process.pid, 0)
        raise
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{what} exited {process.returncode}")
    return usage
