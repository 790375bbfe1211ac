"""Per-epoch metrics to an MLflow run, batched over time.

One synchronous `log_metrics` call per epoch costs an HTTP round trip to the tracking server
(~10-30 ms on a 2-core machine): that is 3-8% of a 0.4 s epoch of a small dense net. `EpochMetricLog` keeps
every epoch's metrics (their own step and timestamp) and sends them with MLflow's `log_batch` at
most once per `flush_seconds` (first epoch at once, then >= 2 s apart, the rest when the fit ends),
so slow epochs still log one by one and fast ones share a call. MLflow's own asynchronous logging
(`synchronous=False`) was measured too: a background thread that competes with Keras for 2 cores
(benchmarks/tracking_overhead.py prints all three).

    with EpochMetricLog() as log_epoch:       # inside an active run
        model.fit(..., hooks=[log_epoch])     # log_epoch(epoch, {"loss": ..., ...})
"""

from __future__ import annotations

import math
import os
import time
from typing import Self

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric

from physml.tracking import spool

FLUSH_SECONDS = 2.0
BATCH_LIMIT = 1000  # metrics per log_batch request (MLflow's limit)
FLUSH_VARIABLE = "PHYSML_METRICS_FLUSH_SECONDS"  # sets the interval (Tune trials inherit it)


def flush_seconds_from_env() -> float:
    """PHYSML_METRICS_FLUSH_SECONDS overrides the interval; 0 sends every epoch as it ends."""
    raw = os.environ.get(FLUSH_VARIABLE, "")
    if not raw:
        return FLUSH_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        raise ValueError(f"PHYSML_METRICS_FLUSH_SECONDS must be a number of seconds, got {raw!r}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"PHYSML_METRICS_FLUSH_SECONDS must be >= 0, got {raw!r}")
    return seconds


class EpochMetricLog:
    """A per-epoch hook `(epoch, metrics)` logging to `run_id` (default: the active run) with step = epoch."""

    def __init__(
        self, run_id: str | None = None, flush_seconds: float | None = None, client: MlflowClient | None = None
    ):
        if run_id is None:
            active = mlflow.active_run()
            if active is None:
                raise RuntimeError("EpochMetricLog needs a run_id or an active MLflow run")
            run_id = active.info.run_id
        self.run_id = run_id
        self.flush_seconds = flush_seconds_from_env() if flush_seconds is None else flush_seconds
        self.client = client or MlflowClient()
        self.tracking_uri = self.client.tracking_uri
        self.pending: list[Metric] = []
        self.last_flush = -math.inf
        self.requests = 0

    def __call__(self, epoch: int, metrics: dict[str, float]) -> None:
        timestamp = int(time.time() * 1000)
        self.pending += [Metric(key, float(value), timestamp, epoch) for key, value in metrics.items()]
        if time.monotonic() - self.last_flush >= self.flush_seconds or len(self.pending) >= BATCH_LIMIT:
            self.flush()

    def flush(self) -> None:
        """Send what is pending (in chunks MLflow accepts). A server that stays unreachable after
        MLflow's bounded retries: what is pending goes to the run's spool (tracking/spool.py) and
        the error is raised, so the command ends instead of training on without a server."""
        if self.pending and spool.is_down(self.tracking_uri):
            self.to_spool()
            return
        try:
            while self.pending:
                chunk = self.pending[:BATCH_LIMIT]
                self.client.log_batch(self.run_id, metrics=chunk)
                self.requests += 1
                del self.pending[: len(chunk)]
        except Exception as exc:
            if not spool.unreachable(exc):
                raise
            spool.mark_down(self.tracking_uri)
            self.to_spool()
            raise
        self.last_flush = time.monotonic()

    def to_spool(self) -> None:
        spool.Spool(self.run_id, self.tracking_uri).metrics(self.pending)
        self.pending.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.flush()
            return
        try:  # the fit failed: keep its last epochs if the server takes them, but report the fit's error
            self.flush()
        except Exception:
            pass
