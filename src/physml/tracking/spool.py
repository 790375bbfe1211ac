"""Nothing logged is lost when the tracking server dies: what could not be sent is kept on disk.

When a request to the server fails after MLflow's retries (bounded by `PHYSML_SERVER_WAIT_SECONDS`,
120 s by default), physml stops waiting: the metrics not yet sent, then the run's end (FAILED, and
why) go to `$PHYSML_HOME/spool/<run_id>/` on the node that produced them (a Tune trial's node too),
and the command ends with one line. The next physml command on that node (or `physml sync`)
replays the spool to the server once it answers: every metric with its own step and timestamp,
then the status, so no run stays RUNNING.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

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
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = self.folder / "meta.json"
        if not meta.exists():
            meta.write_text(json.dumps({"run_id": self.run_id, "tracking_uri": self.tracking_uri}))
        with open(self.folder / f"{name}.jsonl", "a") as handle:
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
        self.tags({"physml.error": reason[:1000]})
        self._append("status", [{"status": status, "end_time": int(time.time() * 1000)}])


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def pending() -> list[Path]:
    root = spool_root()
    return sorted(p for p in root.iterdir() if (p / "meta.json").exists()) if root.is_dir() else []


def replay(folder: Path) -> int:
    """Send one run's spool to its server, then end the run as recorded; returns the metrics sent.
    The folder is removed only when everything went through."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, RunTag

    meta = json.loads((folder / "meta.json").read_text())
    client = MlflowClient(meta["tracking_uri"])
    metrics = [Metric(r["key"], r["value"], r["timestamp"], r["step"]) for r in read(folder / "metrics.jsonl")]
    for start in range(0, len(metrics), BATCH_LIMIT):
        client.log_batch(meta["run_id"], metrics=metrics[start : start + BATCH_LIMIT])
    tags = [RunTag(r["key"], r["value"]) for r in read(folder / "tags.jsonl")]
    tags.append(RunTag("physml.spool", f"replayed {len(metrics)} metric values after the server came back"))
    client.log_batch(meta["run_id"], tags=tags)
    statuses = read(folder / "status.jsonl")
    if statuses and client.get_run(meta["run_id"]).info.status == "RUNNING":
        client.set_terminated(meta["run_id"], statuses[-1]["status"], statuses[-1]["end_time"])
    shutil.rmtree(folder)
    return len(metrics)


def replay_all(quick: bool = False) -> tuple[list[str], list[str]]:
    """Replay every spooled run whose server answers; returns (lines on what was sent, lines on what
    is still waiting). `quick`: skip a server that does not answer its health check at once."""
    from physml.tracking.server import is_healthy

    sent, waiting = [], []
    for folder in pending():
        meta = json.loads((folder / "meta.json").read_text())
        uri = meta["tracking_uri"]
        if quick and uri.startswith("http") and not is_healthy(uri, timeout=2):
            waiting.append(f"run {meta['run_id']}: {uri} does not answer yet; kept in {folder}")
            continue
        try:
            count = replay(folder)
        except Exception as exc:  # the server is still down or refused: keep the spool for later
            waiting.append(f"run {meta['run_id']}: {uri} refused the replay ({str(exc).splitlines()[0][:200]})")
            continue
        sent.append(f"run {meta['run_id']}: replayed {count} metric values to {uri}")
    return sent, waiting
