"""SIGTERM and SIGHUP end a command as Ctrl-C does (what `timeout`, systemd, Slurm, `docker stop` and
Kubernetes send first; a closed terminal sends SIGHUP).

`install()` runs in the CLI's main process only (cli/__init__.py main); Ray's workers never get these
handlers, so Ray's own stops and restarts of trials stay Ray's. On the signal:

- MLflow's HTTP retries drop to none (3 s timeout), so the run's end reaches the server at once or
  goes to the spool: no 120 s wait for a server that is gone;
- while a handler other than Python's own holds SIGINT (Ray Tune's, during a search's fit) that handler
  is called: the search stops as after Ctrl-C (state saved, parent KILLED, `--resume` continues it);
- otherwise `Stopped` (a KeyboardInterrupt) is raised in the main thread: every open run ends FAILED
  with `physml.error` "Stopped: by SIGTERM", and the command exits 128 + the signal with one line.

A second signal of either kind ends the process at once (the default action).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable

from physml.errors import Stopped

SIGNALS = (signal.SIGTERM, signal.SIGHUP)
QUICK_REQUESTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "3"}
_state: dict[str, int | bool | None] = {"received": None, "installed": False}


def received() -> int | None:
    """The signal this process was stopped by, if any."""
    return _state["received"]  # type: ignore[return-value]


def name(signum: int) -> str:
    return signal.Signals(signum).name


def _handle(signum: int, frame) -> None:
    _state["received"] = signum
    for each in SIGNALS:  # a second signal: the default action, at once
        signal.signal(each, signal.SIG_DFL)
    os.environ.update(QUICK_REQUESTS)  # the runs' ends go to the server now, or to the spool
    sigint = signal.getsignal(signal.SIGINT)
    if callable(sigint) and sigint is not signal.default_int_handler:
        sigint(signal.SIGINT, frame)  # Ray Tune's Ctrl-C handler: the search saves its state and returns
        return
    raise Stopped(signum)


def install() -> Callable[[], None]:
    """Handle SIGTERM and SIGHUP in this (main) thread; returns what puts the earlier handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    before = {each: signal.getsignal(each) for each in SIGNALS}
    _state.update(received=None, installed=True)
    for each in SIGNALS:
        signal.signal(each, _handle)

    def restore() -> None:
        _state["installed"] = False
        for each, handler in before.items():
            signal.signal(each, handler)

    return restore


def reinstall() -> None:
    """After a library took SIGTERM over (ray.init sets its own in the driver: sys.exit(15), which
    would leave the search's runs open), hand it back, if the CLI installed the handlers."""
    if _state["installed"] and _state["received"] is None and threading.current_thread() is threading.main_thread():
        for each in SIGNALS:
            signal.signal(each, _handle)
