"""Train/validation/test splits: `random` (as in the study) and `grouped` (no composition on two sides)."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import GroupKFold, GroupShuffleSplit, KFold, train_test_split

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


def carve(
    part: np.ndarray, kind: str, fraction: float, seed: int, groups: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """`part` (row indices) cut in two under the split's policy: (the rest, `fraction` of it);
    `groups` are every row's, so grouped keeps each group on one side."""
    kept, carved = split_indices(len(part), kind, fraction, seed, groups[part] if groups is not None else None)
    return part[kept], part[carved]


def split_three(
    n_rows: int,
    kind: str,
    test_fraction: float,
    val_fraction: float,
    seed: int,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices (train, validation, test): the test part first, then a validation part carved out
    of the rest under the same policy (`val_fraction` of it; grouped keeps each group on one side of
    both cuts). Tuning, early stopping and model choice read the validation part; the test part only reports."""
    rest, test = split_indices(n_rows, kind, test_fraction, seed, groups)
    train, val = carve(rest, kind, val_fraction, seed, groups)
    return train, val, test


def fold_indices(
    n_rows: int, kind: str, folds: int, seed: int, groups: np.ndarray | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """`folds` (fit rows, held-out rows) pairs over `n_rows` rows under the split's policy: each row is
    held out once; `grouped` holds each group (composition) out whole, with its fold drawn by `seed`."""
    rows = np.arange(n_rows)
    if kind == "random":
        return list(KFold(folds, shuffle=True, random_state=seed).split(rows))
    if kind == "grouped":
        if groups is None:
            raise ConfigError("split 'grouped' needs a group id per row")
        return list(GroupKFold(folds, shuffle=True, random_state=seed).split(rows, groups=groups))
    raise ConfigError(f"unknown split {kind!r}; choose random or grouped")
