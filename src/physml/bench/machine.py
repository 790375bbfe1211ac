"""The machine a benchmark ran on: CPUs, memory, GPU (nvidia-smi), Python and library versions.

Figures from different machines are not comparable, so every benchmark run carries this
description (as MLflow params and tags). A GPU is reported as absent when `nvidia-smi` is missing
or lists none; when it exists, `GpuSampler` records its utilisation while a benchmark runs.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import threading
import time
from importlib.metadata import PackageNotFoundError, version
from typing import Self

from physml.resources import usable_cpus as usable_cpus  # re-exported: it lived here

LIBRARIES = (
    "physml",
    "tensorflow-cpu",
    "tensorflow",
    "keras",
    "mlflow",
    "ray",
    "optuna",
    "albumentations",
    "numpy",
    "scikit-learn",
    "xgboost-cpu",
    "xgboost",
)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def total_memory_gib() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return float("nan")


def load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def nvidia_smi(*fields: str) -> list[list[str]] | None:
    """One row per GPU with the requested query fields, or None without nvidia-smi (or if it fails)."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return [[cell.strip() for cell in line.split(",")] for line in out.strip().splitlines() if line.strip()]


def gpu_description() -> dict[str, str]:
    rows = nvidia_smi("name", "memory.total", "driver_version")
    if not rows:
        return {
            "gpu": "absent",
            "gpu_count": "0",
            "gpu_source": "nvidia-smi not found" if shutil.which("nvidia-smi") is None else "nvidia-smi lists none",
        }
    return {
        "gpu": "; ".join(f"{name} ({memory} MiB)" for name, memory, _ in rows),
        "gpu_count": str(len(rows)),
        "gpu_driver": rows[0][2],
        "gpu_source": "nvidia-smi",
    }


def library_versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


def matmul_gflops(size: int = 2048, repeats: int = 5) -> float:
    """This host's float32 matrix-multiply speed (numpy's BLAS on every core, best of `repeats`): the
    yardstick that makes CPU figures from different hosts of the same kind comparable (under a second)."""
    import numpy as np

    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    a @ a  # warm-up: BLAS threads
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def describe() -> dict[str, str]:
    """Flat str -> str description, ready for MLflow params/tags (keys prefixed `machine.`)."""
    info = {
        "hostname": platform.node(),
        "os": f"{platform.system()} {platform.release()}",
        "cpu_model": cpu_model(),
        "cpu_count": str(usable_cpus()),
        "cpu_count_os": str(os.cpu_count()),
        "memory_gib": f"{total_memory_gib():.1f}",
        "load_average_1min": f"{load_average():.2f}",
        "python": platform.python_version(),
        "matmul_gflops": f"{matmul_gflops():.0f}",
    }
    info.update(gpu_description())
    info.update({f"version.{name}": value for name, value in library_versions().items()})
    return {f"machine.{key}": value for key, value in info.items()}


def one_line(machine: dict[str, str]) -> str:
    get = lambda key: machine.get(f"machine.{key}", "?")
    tf = get("version.tensorflow-cpu") if "machine.version.tensorflow-cpu" in machine else get("version.tensorflow")
    return (
        f"{get('cpu_count')} CPUs ({get('cpu_model')}, float32 matmul {get('matmul_gflops')} GFLOP/s), "
        f"{get('memory_gib')} GiB, GPU: {get('gpu')}; "
        f"Python {get('python')}, TF {tf}, MLflow {get('version.mlflow')}, Ray {get('version.ray')}; "
        f"load {get('load_average_1min')} at start"
    )


class GpuSampler:
    """Samples GPU utilisation and memory with nvidia-smi every `interval` s while active (a no-op without
    a GPU). `summary()` gives mean/max utilisation (%) and peak memory (MiB)."""

    def __init__(self, interval: float = 1.0):
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self.available = bool(nvidia_smi("name"))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            rows = nvidia_smi("utilization.gpu", "memory.used") or []
            for utilisation, memory in rows:
                try:
                    self.samples.append((float(utilisation), float(memory)))
                except ValueError:
                    pass
            self._stop.wait(self.interval)

    def __enter__(self) -> Self:
        if self.available:
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def summary(self) -> dict[str, float]:
        if not self.samples:
            return {}
        utilisation = [u for u, _ in self.samples]
        return {
            "gpu_utilisation_mean_pct": sum(utilisation) / len(utilisation),
            "gpu_utilisation_max_pct": max(utilisation),
            "gpu_memory_peak_mib": max(m for _, m in self.samples),
        }


def tensorflow_devices() -> str:
    """The devices TensorFlow sees (imports TF: call it only where TF is loaded anyway)."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return ", ".join(d.name for d in gpus) if gpus else "CPU only"


def wall_clock() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z")
