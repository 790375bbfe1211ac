"""Train/test splits: `random` (as in the study) and `grouped` (no composition on both sides)."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import GroupShuffleSplit, train_test_split

from physml.errors import ConfigError


def split_indices(
    n_rows: int, kind: str, test_fraction: float, seed: int, groups: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, test). `grouped` keeps rows of one group (composition) together."""
    rows = np.arange(n_rows)
    if kind == "random":
        train, test = train_test_split(rows, test_size=test_fraction, random_state=seed)
    elif kind == "grouped":
        if groups is None:
            raise ConfigError("split 'grouped' needs a group id per row")
        splitter = GroupShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed)
        train, test = next(splitter.split(rows, groups=groups))
    else:
        raise ConfigError(f"unknown split {kind!r}; choose random or grouped")
    return np.sort(train), np.sort(test)
