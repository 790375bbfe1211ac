"""One Keras callback for every physml net: progress bar over epochs, divergence check, history,
checkpoints (models/checkpoints.py) and the caller's per-epoch hooks (MLflow logging, a Ray Tune
report, ...)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path

import keras
from tqdm.auto import tqdm

from physml.errors import ConfigError, TrainingDiverged
from physml.models.checkpoints import Checkpoints, Resumed

EpochHook = Callable[[int, dict[str, float]], None]
MODEL_FILE = "model.keras"


class EpochReporter(keras.callbacks.Callback):
    """`metrics_of(logs)` turns Keras logs into the metrics that are reported (default: as they are).

    With `checkpoints`, each due epoch saves the model (with its optimiser) and the history before
    the hooks run, so a hook that reports the epoch can take the checkpoint along; `extra_state(folder)`
    saves what else the loop needs back on resume and returns it as a dict. `resumed` continues the
    history and the progress bar of the checkpoint the net was restored from.
    """

    def __init__(
        self,
        epochs: int,
        hooks: list[EpochHook] | None = None,
        metrics_of: Callable[[dict], dict[str, float]] | None = None,
        description: str = "epochs",
        progress: bool = True,
        shown: tuple[str, ...] = (),
        checkpoints: Checkpoints | None = None,
        extra_state: Callable[[Path], dict] | None = None,
        resumed: Resumed | None = None,
    ):
        super().__init__()
        self.epochs = epochs
        self.hooks = hooks or []
        self.metrics_of = metrics_of or (lambda logs: {k: float(v) for k, v in logs.items()})
        self.history: dict[str, list[float]] = dict(resumed.state.get("history", {})) if resumed else {}
        self.shown = shown
        self.checkpoints, self.extra_state = checkpoints, extra_state
        progress = progress and os.environ.get("PHYSML_PROGRESS", "1") != "0"
        start = resumed.epoch if resumed else 0
        self.bar = tqdm(total=epochs, initial=start, desc=description, unit="epoch") if progress else None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        loss = float(logs.get("loss", float("nan")))
        if not math.isfinite(loss):
            self.close()
            raise TrainingDiverged(epoch + 1, loss)
        metrics = self.metrics_of(logs)
        for key, value in metrics.items():
            self.history.setdefault(key, []).append(value)
        if self.checkpoints is not None and self.checkpoints.due(epoch + 1, self.epochs):
            self.checkpoints.save(epoch + 1, self._save, {"history": self.history})
        for hook in self.hooks:
            hook(epoch + 1, metrics)
        if self.bar is not None:
            self.bar.set_postfix({k: f"{metrics[k]:.3g}" for k in self.shown if k in metrics})
            self.bar.update(1)

    def _save(self, folder: Path) -> None:
        self.model.save(folder / MODEL_FILE)
        if self.extra_state is not None:
            extra = self.extra_state(folder)
            (folder / "extra_state.json").write_text(json.dumps(extra))

    def on_train_end(self, logs=None):
        self.close()

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def restore_net(resumed: Resumed, expected: keras.Model, learning_rate: float | None = None) -> keras.Model:
    """The net saved in `resumed` (weights and optimiser state), checked against the architecture
    the config builds (`expected`); `learning_rate` replaces the saved one (a PBT perturbation)."""
    model = keras.models.load_model(resumed.folder / MODEL_FILE, compile=True)
    saved = [tuple(w.shape) for w in model.weights]
    wanted = [tuple(w.shape) for w in expected.weights]
    if saved != wanted:
        raise ConfigError(
            f"checkpoint {resumed.folder} holds a net of another shape than the config builds "
            f"({len(saved)} weight arrays vs {len(wanted)}): a search may change only what a checkpoint can take"
        )
    if learning_rate is not None:
        model.optimizer.learning_rate = learning_rate
    return model


def extra_state(resumed: Resumed | None) -> dict:
    """What `extra_state` saved with the checkpoint (empty when there is none)."""
    if resumed is None or not (resumed.folder / "extra_state.json").exists():
        return {}
    return json.loads((resumed.folder / "extra_state.json").read_text())


def as_hook_list(hooks: EpochHook | list[EpochHook] | None) -> list[EpochHook]:
    if hooks is None:
        return []
    return list(hooks) if isinstance(hooks, (list, tuple)) else [hooks]
