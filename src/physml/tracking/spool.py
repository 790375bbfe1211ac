"""Nothing logged is lost when the tracking server dies: what could not be sent is kept on disk.

When a request to the server fails after MLflow's retries (bounded by `PHYSML_SERVER_WAIT_SECONDS`,
120 s by default), physml stops waiting: the metrics not yet sent, then the run's end (FAILED, and
why) go to `$PHYSML_HOME/spool/<run_id>/` on the node that produced them (a Tune trial's node too),
and the command ends with one line. The next physml command on that node (or `physml sync`)
replays the spool to the server once it answers: every metric with its own step and timestamp,
then the status, so no run stays RUNNING.

The spool is a journal that survives damage: each file is read line by line, every line that parses
is sent and each one that does not is named (`<file> line N`); a run with no status recorded ends
FAILED with a reason (unless its process still runs here); an entry is deleted only once the server
shows its run terminal. Its files are the owner's only (0600) and its stored URI holds no password.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from physml.console import redacted

DEFAULT_WAIT_SECONDS = 120.0
RETRY_VARIABLES = (
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER",
    "MLFLOW_HTTP_REQUEST_TIMEOUT",
)
BATCH_LIMIT = 1000
_down: set[str] = set()  # tracking URIs found dead in this process: later calls go to the spool at once


def spool_root() -> Path:
    from physml.tracking.server import home_dir

    return home_dir() / "spool"


def wait_seconds() -> float:
    raw = os.environ.get("PHYSML_SERVER_WAIT_SECONDS", "")
    from physml.errors import ConfigError

    try:
        seconds = float(raw) if raw else DEFAULT_WAIT_SECONDS
    except ValueError:
        raise ConfigError(f"PHYSML_SERVER_WAIT_SECONDS must be a number of seconds, got {raw!r}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"PHYSML_SERVER_WAIT_SECONDS must be > 0, got {raw!r}")
    return seconds


def bound_retries() -> None:
    """MLflow's HTTP retries sized to wait about PHYSML_SERVER_WAIT_SECONDS in all for a dead server
    (its defaults add up to several minutes per request: 7 retries, backoff 2, 120 s timeouts).
    Variables the user set win."""
    wait = wait_seconds()
    # urllib3 sleeps factor * 2**(n-1) s before retry n, so n retries with factor 1 (MLflow takes
    # whole numbers only) wait 2**n - 1 s in all: n is picked to come closest to `wait`
    retries = max(1, round(math.log2(wait + 1)))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(retries))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(max(5, int(wait / 4))))
    announce_waits()


class FirstRetry(logging.Handler):
    """Says once per command, as the wait for a server that does not answer starts, what happens
    meanwhile (urllib3 logs each retry after a broken connection as "Retrying ...")."""

    said = False

    def emit(self, record: logging.LogRecord) -> None:
        if FirstRetry.said or not str(record.msg).startswith("Retrying"):
            return
        host = getattr(record, "__urllib3-retry-warning", {}).get("host")
        if host is not None and host != tracking_host():  # another service's retries (a bucket, a download)
            return
        FirstRetry.said = True
        print(
            f"physml: tracking server unreachable, retrying for up to {wait_seconds():.0f} s; "
            "unsent metrics go to the spool",
            file=sys.stderr,
        )


def tracking_host() -> str | None:
    from urllib.parse import urlsplit

    uri = sys.modules["mlflow"].get_tracking_uri() if "mlflow" in sys.modules else ""
    return urlsplit(uri).hostname


def announce_waits() -> None:
    logger = logging.getLogger("urllib3.connectionpool")
    FirstRetry.said = False
    if not any(isinstance(handler, FirstRetry) for handler in logger.handlers):
        logger.addHandler(FirstRetry())


def unreachable(exc: BaseException) -> bool:
    """Whether `exc` is the client giving up on a server it cannot reach (not a refusal or a bad request)."""
    import requests
    from mlflow.exceptions import MlflowException, RestException

    if isinstance(exc, requests.exceptions.ConnectionError):
        return True
    if not isinstance(exc, MlflowException) or isinstance(exc, RestException):
        return False
    text = str(exc)
    return any(sign in text for sign in ("Max retries exceeded", "Connection refused", "Failed to establish"))


def mark_down(tracking_uri: str) -> None:
    _down.add(tracking_uri)


def is_down(tracking_uri: str) -> bool:
    return tracking_uri in _down


@dataclass
class Spool:
    run_id: str
    tracking_uri: str

    @property
    def folder(self) -> Path:
        return spool_root() / self.run_id

    def _append(self, name: str, records: list[dict]) -> None:
        """Records appended to `<name>.jsonl`, flushed to disk. Only the owner reads the spool (its
        files 0600, its folders 0700); the stored URI holds no credential (`redacted`)."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        meta = self.folder / "meta.json"
        if not meta.exists():
            with open(os.open(meta, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
                handle.write(json.dumps({"run_id": self.run_id, "tracking_uri": redacted(self.tracking_uri)}))
        with open(os.open(self.folder / f"{name}.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a") as handle:
            for record in records:
                handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def metrics(self, metrics: list) -> None:
        """mlflow.entities.Metric values, appended."""
        records = [{"key": m.key, "value": m.value, "timestamp": m.timestamp, "step": m.step} for m in metrics]
        self._append("metrics", records)

    def tags(self, tags: dict[str, str]) -> None:
        self._append("tags", [{"key": key, "value": str(value)} for key, value in tags.items()])

    def end(self, status: str, reason: str) -> None:
        self.tags({"physml.error": redacted(reason)[:1000]})
        self._append("status", [{"status": status, "end_time": int(time.time() * 1000)}])


TERMINAL = ("FINISHED", "FAILED", "KILLED")
NO_STATUS = "the spool held no status for this run (its process ended before recording one): ended FAILED on replay"


def _valid(kind: str, record) -> str | None:
    """Why `record` is not a record of the spool file `kind` (None when it is)."""
    numbers = (int, float)
    checks = {
        "metrics": lambda r: (
            isinstance(r.get("key"), str)
            and isinstance(r.get("value"), numbers)
            and isinstance(r.get("timestamp"), int)
            and isinstance(r.get("step"), int)
        ),
        "tags": lambda r: isinstance(r.get("key"), str) and isinstance(r.get("value"), str),
        "status": lambda r: r.get("status") in TERMINAL and isinstance(r.get("end_time"), int),
    }
    if not isinstance(record, dict):
        return "not a JSON object"
    return None if checks.get(kind, lambda r: True)(record) else "fields missing or of the wrong type"


def read(path: Path, damaged: list[str] | None = None) -> list[dict]:
    """The records of a spool file, line by line: every line that parses is kept (a file cut off
    mid-line, by a full disk or a killed process, loses that line only); each line that does not is
    named in `damaged` as `<file> line N (why)`."""
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            why = _valid(path.stem, record)
        except ValueError as exc:
            why = str(exc)
        if why is None:
            records.append(record)
        elif damaged is not None:
            damaged.append(f"{path} line {number} ({why[:80]})")
    return records


def pending() -> list[Path]:
    root = spool_root()
    return sorted(p for p in root.iterdir() if (p / "meta.json").exists()) if root.is_dir() else []


class Waiting(Exception):
    """A spool entry that is kept for later, not for the server's sake: the message says why."""


def with_credentials(uri: str) -> str:
    """The stored (credential-free) URI, or $MLFLOW_TRACKING_URI when that is the same server with the
    user's credentials in it."""
    current = os.environ.get("MLFLOW_TRACKING_URI", "")
    return current if current and current != uri and redacted(current) == uri else uri


def read_meta(folder: Path) -> dict:
    try:
        meta = json.loads((folder / "meta.json").read_text())
        return {"run_id": str(meta["run_id"]), "tracking_uri": str(meta["tracking_uri"])}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise Waiting(
            f"run {folder.name}: {folder / 'meta.json'} is damaged ({str(exc)[:80]}), so the run's server is "
            "unknown: repair or remove it"
        ) from None


def replay(folder: Path) -> str:
    """Send one run's spool to its server, line by line as it parses, then end the run as recorded
    (FAILED with a reason when no status was recorded); returns a line on what was sent. The folder
    is removed only once the server shows the run terminal."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, RunTag

    from physml.tracking.processes import alive_here

    meta = read_meta(folder)
    run_id, client, damaged = meta["run_id"], MlflowClient(with_credentials(meta["tracking_uri"])), []
    metrics = [Metric(r["key"], r["value"], r["timestamp"], r["step"]) for r in read(folder / "metrics.jsonl", damaged)]
    tags = {r["key"]: r["value"] for r in read(folder / "tags.jsonl", damaged)}
    statuses = read(folder / "status.jsonl", damaged)
    current = client.get_run(run_id)
    running = current.info.status == "RUNNING"
    if not statuses and running and alive_here(current.data.tags):
        raise Waiting(f"run {run_id}: its process still runs and writes {folder}; kept")
    for start in range(0, len(metrics), BATCH_LIMIT):
        client.log_batch(run_id, metrics=metrics[start : start + BATCH_LIMIT])
    skipped = f"; skipped {len(damaged)} damaged spool line(s): {', '.join(damaged[:3])}" if damaged else ""
    tags["physml.spool"] = f"replayed {len(metrics)} metric values after the server came back{skipped}"[:5000]
    if not statuses and running:
        tags.setdefault("physml.error", NO_STATUS)
    client.log_batch(run_id, tags=[RunTag(key, value) for key, value in tags.items()])
    if running:
        end = statuses[-1] if statuses else {"status": "FAILED", "end_time": int(time.time() * 1000)}
        client.set_terminated(run_id, end["status"], end["end_time"])
    status = client.get_run(run_id).info.status
    if status not in TERMINAL:
        raise Waiting(f"run {run_id}: still {status} on {meta['tracking_uri']} after the replay; kept in {folder}")
    shutil.rmtree(folder)
    return f"run {run_id}: replayed {len(metrics)} metric values to {meta['tracking_uri']} ({status}){skipped}"


def replay_all(quick: bool = False) -> tuple[list[str], list[str]]:
    """Replay every spooled run whose server answers; returns (lines on what was sent, lines on what
    is still waiting). `quick`: skip a server that does not answer its health check at once."""
    from physml.tracking.server import is_healthy

    sent, waiting = [], []
    for folder in pending():
        try:
            meta = read_meta(folder)
            uri = meta["tracking_uri"]
            if quick and uri.startswith("http") and not is_healthy(uri, timeout=2):
                waiting.append(f"run {meta['run_id']}: {uri} does not answer yet; kept in {folder}")
                continue
            sent.append(replay(folder))
        except Waiting as exc:  # the spool itself, or its run's process, is why: not the server
            waiting.append(str(exc))
        except Exception as exc:  # the server is still down or refused: keep the spool for later
            waiting.append(f"run {folder.name}: {uri} refused the replay ({str(exc).splitlines()[0][:200]})")
    return sent, waiting
