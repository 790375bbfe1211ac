"""Where a search keeps what it needs to go on: Tune's storage (trial checkpoints, the experiment
state `--resume` restores, PBT's log) in a local folder or at a URI that Ray Tune reaches through
pyarrow's filesystems (`s3://bucket/prefix`, `gs://...`, what a cluster's nodes all see), and
physml's own search state (the parent run it continues), which stays on the driver's disk."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SearchStorage:
    tune_root: str  # Tune's storage_path: an absolute folder or a URI
    name: str  # the search's folder under it (RunConfig.name)
    state_dir: Path  # physml's state (STATE_FILE), local

    @property
    def remote(self) -> bool:
        return "://" in self.tune_root

    @property
    def experiment(self) -> str:
        """Tune's folder (or URI) of this search: what Tuner.restore reads."""
        return f"{self.tune_root}/{self.name}"

    def read_text(self, relative: str) -> str | None:
        """A file Tune wrote in the search's folder (None when there is none)."""
        if not self.remote:
            path = Path(self.experiment) / relative
            return path.read_text() if path.is_file() else None
        import pyarrow.fs

        filesystem, root = pyarrow.fs.FileSystem.from_uri(self.experiment)
        try:
            with filesystem.open_input_stream(f"{root}/{relative}") as stream:
                return stream.read().decode()
        except (FileNotFoundError, OSError):
            return None


def search_storage(storage: str | None, name: str, home: Path) -> SearchStorage:
    """`--storage` (default: HOME/ray_results) resolved for a search called `name`. A URI goes to
    Tune as given; physml's state for it is kept under HOME/searches/NAME."""
    if storage and "://" in storage:
        return SearchStorage(storage.rstrip("/"), name, home / "searches" / name)
    root = Path(storage or home / "ray_results").expanduser().resolve()
    return SearchStorage(str(root), name, root / name)
