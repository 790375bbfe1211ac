"""MLflow's system metrics on every run and Tune trial: CPU, memory, disk and network use over time
(`system/...` metrics), and GPU use where pynvml finds an NVIDIA GPU.

physml turns MLflow's own switch on for every command (`MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING`,
unless the user set it: `false` turns it off) and samples every `SAMPLING_INTERVAL_S` seconds
(`MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL` overrides it). One sample costs a few milliseconds
(benchmarks/system_metrics_overhead.py measures it): well under 1% of a run at this interval.
Tune trials inherit the same variables through Ray's runtime environment (tuning/search.py).
"""

from __future__ import annotations

import os

SAMPLING_INTERVAL_S = 10
VARIABLES = (
    "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING",
    "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL",
    "MLFLOW_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING",
)


def enable() -> None:
    """System metrics on for the runs this process (and the trials it starts) opens, unless the user chose."""
    os.environ.setdefault("MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING", "true")
    os.environ.setdefault("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", str(SAMPLING_INTERVAL_S))
