"""One Keras callback for every physml net: progress bar over epochs, divergence check, history,
and the caller's per-epoch hooks (MLflow logging, a Ray Tune report, ...)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import keras
from tqdm.auto import tqdm

from physml.errors import TrainingDiverged

EpochHook = Callable[[int, dict[str, float]], None]


class EpochReporter(keras.callbacks.Callback):
    """`metrics_of(logs)` turns Keras logs into the metrics that are reported (default: as they are)."""

    def __init__(
        self,
        epochs: int,
        hooks: list[EpochHook] | None = None,
        metrics_of: Callable[[dict], dict[str, float]] | None = None,
        description: str = "epochs",
        progress: bool = True,
        shown: tuple[str, ...] = (),
    ):
        super().__init__()
        self.hooks = hooks or []
        self.metrics_of = metrics_of or (lambda logs: {k: float(v) for k, v in logs.items()})
        self.history: dict[str, list[float]] = {}
        self.shown = shown
        progress = progress and os.environ.get("PHYSML_PROGRESS", "1") != "0"
        self.bar = tqdm(total=epochs, desc=description, unit="epoch") if progress else None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        loss = float(logs.get("loss", float("nan")))
        if not math.isfinite(loss):
            self.close()
            raise TrainingDiverged(epoch + 1, loss)
        metrics = self.metrics_of(logs)
        for key, value in metrics.items():
            self.history.setdefault(key, []).append(value)
        for hook in self.hooks:
            hook(epoch + 1, metrics)
        if self.bar is not None:
            self.bar.set_postfix({k: f"{metrics[k]:.3g}" for k in self.shown if k in metrics})
            self.bar.update(1)

    def on_train_end(self, logs=None):
        self.close()

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def as_hook_list(hooks: EpochHook | list[EpochHook] | None) -> list[EpochHook]:
    if hooks is None:
        return []
    return list(hooks) if isinstance(hooks, (list, tuple)) else [hooks]
