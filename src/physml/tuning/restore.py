"""Before `--resume` hands a search back to Tune: every trial's checkpoint that Tune's saved state
names is on the storage.

Tune deletes a trial's oldest checkpoint as it registers a new one (CheckpointConfig.num_to_keep) but
saves its own state only on a later step (ray/tune/execution/experiment_state.py forces a save every
num_to_keep checkpoints, by its own words "a non-performant workaround", Ray 2.x). A search killed in
between leaves a state that names a deleted folder, and Tune's restore of that trial fails every
retry ("Could not recover from checkpoint as it does not exist on storage anymore"): a CI run's
resumed search ended with the cut-off trial ERROR. Here the trial's newest whole checkpoint is copied
to the name Tune expects, with a note in its state that the trial's run shows
(`trial.restored_from`).
"""

from __future__ import annotations

import json
import posixpath
import shutil
import tempfile
from pathlib import Path

from pyarrow.fs import FileSelector, FileType, LocalFileSystem, copy_files
from ray import tune

from physml.models.checkpoints import STATE_FILE, is_complete

RESTORED_NOTE = "restored_from"  # in a copied checkpoint's state: what it is a copy of, and why


def exists(checkpoint: tune.Checkpoint) -> bool:
    return checkpoint.filesystem.get_file_info(checkpoint.path).type == FileType.Directory


def name_of(checkpoint: tune.Checkpoint) -> str:
    return posixpath.basename(checkpoint.path.rstrip("/"))


def siblings_newest_first(checkpoint: tune.Checkpoint) -> list[tune.Checkpoint]:
    """The trial's checkpoints on the search's storage (`checkpoint_000007`, ...), newest first."""
    filesystem = checkpoint.filesystem
    trial_folder = posixpath.dirname(checkpoint.path.rstrip("/"))
    found = filesystem.get_file_info(FileSelector(trial_folder, allow_not_found=True))
    names = [
        info.path for info in found if info.type == FileType.Directory and info.base_name.startswith("checkpoint_")
    ]
    return [tune.Checkpoint(path, filesystem=filesystem) for path in sorted(names, reverse=True)]


def whole_local_copy(checkpoint: tune.Checkpoint) -> Path | None:
    """The checkpoint copied to a local folder, or None when it is not whole (its upload was cut off)."""
    folder = Path(tempfile.mkdtemp(prefix="physml-restore-"))
    try:
        checkpoint.to_directory(str(folder))
    except OSError:  # a file listed a moment ago is gone (deleted, or still being written)
        pass
    else:
        if is_complete(folder):
            return folder
    shutil.rmtree(folder, ignore_errors=True)
    return None


def replace_missing(named: tune.Checkpoint) -> str:
    """Copy the trial's newest whole checkpoint to the missing `named` one; what was done, in words.
    The folder is made either way: Tune fails a trial whose named folder is missing, and an empty one
    starts it at epoch 0."""
    others = siblings_newest_first(named)
    named.filesystem.create_dir(named.path)  # also: a local filesystem makes no folder for copy_files
    for candidate in others:
        folder = whole_local_copy(candidate)
        if folder is None:
            continue
        try:
            note = (
                f"{name_of(candidate)} (Tune's saved state named {name_of(named)}, deleted before that state was saved)"
            )
            state = json.loads((folder / STATE_FILE).read_text())
            (folder / STATE_FILE).write_text(json.dumps({**state, RESTORED_NOTE: note}))
            copy_files(str(folder), named.path, LocalFileSystem(), named.filesystem)
            return f"continues from {note}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return f"starts again at epoch 0: Tune's saved state names {name_of(named)}, which is gone, and no other is whole"


def repair_missing_checkpoints(experiment: str) -> list[str]:
    """For each unfinished trial of the search saved at `experiment` whose named checkpoint is gone,
    put its newest whole one there; a line for each trial repaired."""
    lines = []
    for trial in tune.ExperimentAnalysis(experiment).trials:
        named = trial.checkpoint
        if trial.status == "TERMINATED" or named is None or exists(named):
            continue
        lines.append(f"trial {trial.trial_id} {replace_missing(named)}")
    return lines
