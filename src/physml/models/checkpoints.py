"""Training state handed over each epoch and given back on resume.

A training loop saves its state (model, optimiser, progress) into a folder through `Checkpoints.save`
every `every` epochs; whoever keeps checkpoints (a Ray Tune trial: tuning/trainable.py) takes that
folder with the epoch's report. When the work is restarted (a retried trial, a resumed search, a
PBT exploit), the loop finds the folder it should continue from in `Checkpoints.resume()`.

Nothing here knows Ray or a task: the trial wraps the folders in `tune.Checkpoint`s, the task's loop
decides what goes in them (Keras nets: EpochReporter and restore_net in models/callbacks.py).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATE_FILE = "physml_state.json"
MANIFEST = "checkpoint_files"  # in STATE_FILE: each file the checkpoint holds, with its size in bytes


def file_sizes(folder: Path) -> dict[str, int]:
    return {str(path.relative_to(folder)): path.stat().st_size for path in folder.rglob("*") if path.is_file()}


def is_complete(folder: Path) -> bool:
    """Whether a checkpoint folder holds everything it was saved with: a copy cut off half-way (its
    process killed while it was uploaded) misses files or has them short. A checkpoint saved before
    the manifest existed counts as complete when its state file reads."""
    try:
        state = json.loads((folder / STATE_FILE).read_text())
    except (OSError, ValueError):
        return False
    sizes = file_sizes(folder)
    return all(sizes.get(name) == size for name, size in state.get(MANIFEST, {}).items())


@dataclass
class Resumed:
    """A checkpoint to continue from: its folder, the epoch it ends, and what the loop kept with it."""

    folder: Path
    epoch: int
    state: dict[str, Any] = field(default_factory=dict)


class Checkpoints:
    """Stage a checkpoint folder per saved epoch; give back the one to resume from."""

    def __init__(self, restore_from: str | Path | None = None, every: int = 1, meta: dict[str, Any] | None = None):
        self.restore_from = Path(restore_from) if restore_from else None
        self.every = max(1, int(every))
        # kept in every checkpoint: who saved it and under which settings (a trial's id and params),
        # so a run restored from another's checkpoint (a PBT exploit) can say whose it was
        self.meta = dict(meta or {})
        self._staged: tuple[int, Path] | None = None
        self.stopped = False  # set when whoever keeps the checkpoints cannot take more
        self._resumed: Resumed | None = None
        self._resume_read = False

    def resume(self) -> Resumed | None:
        """The checkpoint to continue from, or None to start at epoch 0. Read once: whoever asks
        later (the run's tags, then the training loop) gets the same answer, and a folder that
        vanished in between fails the restore loudly instead of starting again at epoch 0."""
        if not self._resume_read:
            self._resume_read = True
            if self.restore_from is not None and (self.restore_from / STATE_FILE).exists():
                state = json.loads((self.restore_from / STATE_FILE).read_text())
                self._resumed = Resumed(self.restore_from, int(state.get("epoch", 0)), state)
        return self._resumed

    def due(self, epoch: int, last: int) -> bool:
        """Whether epoch `epoch` (1-based) of `last` is saved: every `every`-th and the last."""
        return not self.stopped and (epoch % self.every == 0 or epoch == last)

    def save(self, epoch: int, write: Callable[[Path], None], state: dict[str, Any] | None = None) -> Path:
        """Write epoch `epoch`'s state into a fresh folder (`write(folder)` saves the model) and stage it."""
        self.discard()
        folder = Path(tempfile.mkdtemp(prefix=f"physml-ckpt-{epoch}-"))
        write(folder)
        saved = {**(state or {}), **self.meta, "epoch": epoch, MANIFEST: file_sizes(folder)}
        (folder / STATE_FILE).write_text(json.dumps(saved, default=str))
        self._staged = (epoch, folder)
        return folder

    def take(self, epoch: int) -> Path | None:
        """The folder staged for `epoch` (None if that epoch was not saved); the caller now owns it."""
        if self._staged is None or self._staged[0] != epoch:
            return None
        folder = self._staged[1]
        self._staged = None
        return folder

    def stop(self) -> None:
        """No more checkpoints from here on."""
        self.stopped = True
        self.discard()

    def discard(self) -> None:
        if self._staged is not None:
            shutil.rmtree(self._staged[1], ignore_errors=True)
            self._staged = None
