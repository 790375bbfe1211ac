"""Helpers for tests that break real data: small copies of the shared data in the Kaggle layout."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from physml.tasks.galaxy.data import IMAGES_DIR, LABELS_FILE


def galaxy_subset(galaxy_dir: Path, folder: Path, count: int) -> Path:
    """The first `count` real galaxies (label rows and JPEGs) copied into `folder`."""
    (folder / IMAGES_DIR).mkdir(parents=True)
    labels = pd.read_csv(galaxy_dir / LABELS_FILE, nrows=count, dtype=str, keep_default_na=False)
    labels.to_csv(folder / LABELS_FILE, index=False)
    for galaxy_id in labels["GalaxyID"]:
        shutil.copy(galaxy_dir / IMAGES_DIR / f"{galaxy_id}.jpg", folder / IMAGES_DIR)
    return folder
