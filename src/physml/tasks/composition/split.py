"""The four parts a composition run is cut into, and the cuts the kind makes itself.

Training (what models fit), validation (what the net and the boosted model validate on, searches and
promotion decide on), calibration (carved out of the validation part under the same policy: only the
conformal intervals, or the classifier's probability calibration, are fitted on it) and test (only
scored). A task cuts them its own way (random, grouped, by family, ...) and hands a `SplitData`
to the kind's training loop; the kind's tasks cut them by composition (`grouped_split`) or, under
`cv`, take an official outer fold as the test part (`fold_split`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from physml.data.splits import carve, split_three
from physml.run_result import EvidencePart


@dataclass
class SplitData:
    X_train: pd.DataFrame
    X_val: pd.DataFrame
    X_cal: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series
    y_val: pd.Series
    y_cal: pd.Series
    y_test: pd.Series
    # of the test, validation and calibration rows: runs with the same digest were judged on the same rows
    split_digest: str
    policy: str  # random | grouped: how the parts were cut (and cross-fitting's folds are)
    fit_groups: np.ndarray | None  # grouped: the group id of each training row, then each validation row
    name: str = ""  # how a figure's title names the split ("random split", "fold 3")
    test_formulas: pd.Series | None = None  # the test rows' formulas (the served model's input)
    test_ids: pd.Series | None = None  # the test rows' ids (a task's `id` column)
    # of every row of the data, what the platform's evidence reads (tracking/evidence.py), cut by `parts`:
    # strata by what they group (Tc range, family), the group key whatever the policy (the composition),
    # and the record ids
    row_strata: dict[str, pd.Categorical] = field(default_factory=dict)
    group_key: np.ndarray | None = None
    row_ids: np.ndarray | None = None
    parts: Parts | None = None

    def rows_of(self, part: str) -> np.ndarray:
        """The data's row indices of a part (train, val, cal, test)."""
        return getattr(self.parts, part)

    def evidence_part(self, name: str, predicted) -> EvidencePart:
        """A part (train, val, cal, test) with the model's predictions on it, as the platform's evidence reads it."""
        rows = self.rows_of(name)
        return EvidencePart(
            y=getattr(self, f"y_{name}").to_numpy(),
            predicted=np.asarray(predicted),
            features=getattr(self, f"X_{name}").to_numpy(dtype=float),
            groups=None if self.group_key is None else np.asarray(self.group_key)[rows],
            ids=None if self.row_ids is None else np.asarray(self.row_ids)[rows],
            strata={key: labels[rows] for key, labels in self.row_strata.items()},
        )

    @property
    def strata(self) -> dict[str, pd.Categorical]:
        """The test rows' strata."""
        return {name: labels[self.parts.test] for name, labels in self.row_strata.items()}

    @property
    def validation_rows(self) -> slice:
        """Where the validation part's rows sit when the training and validation parts are stacked."""
        return slice(len(self.X_train), len(self.X_train) + len(self.X_val))


@dataclass(frozen=True)
class Parts:
    """Row indices of the four parts."""

    train: np.ndarray
    val: np.ndarray
    cal: np.ndarray
    test: np.ndarray

    def digest(self) -> str:
        joined = b"|".join(index.astype(np.int64).tobytes() for index in (self.test, self.val, self.cal))
        return hashlib.sha256(joined).hexdigest()[:16]


def cut(
    features: pd.DataFrame, target: pd.Series, parts: Parts, policy: str, groups: np.ndarray | None, **extra
) -> SplitData:
    """`features` and `target` cut into `parts`; `extra` sets SplitData's optional fields."""

    def rows(frame, index):
        return frame.iloc[index].reset_index(drop=True)

    return SplitData(
        X_train=rows(features, parts.train),
        X_val=rows(features, parts.val),
        X_cal=rows(features, parts.cal),
        X_test=rows(features, parts.test),
        y_train=rows(target, parts.train),
        y_val=rows(target, parts.val),
        y_cal=rows(target, parts.cal),
        y_test=rows(target, parts.test),
        split_digest=parts.digest(),
        policy=policy,
        fit_groups=None if groups is None else np.concatenate([groups[parts.train], groups[parts.val]]),
        parts=parts,
        **extra,
    )


def three_parts(n_rows: int, policy: str, settings, seed: int, groups: np.ndarray | None) -> Parts:
    """Test, then validation out of the rest, then calibration out of validation, all under `policy`
    (settings: test_fraction, val_fraction, calibration_fraction)."""
    train, val, test = split_three(n_rows, policy, settings.test_fraction, settings.val_fraction, seed, groups)
    val, cal = carve(val, policy, settings.calibration_fraction, seed, groups)
    return Parts(train, val, cal, test)


def fit_parts(fit_rows: np.ndarray, test_rows: np.ndarray, policy: str, settings, seed, groups) -> Parts:
    """A given test part (an outer fold); validation and calibration carved out of `fit_rows` only."""
    train, val = carve(fit_rows, policy, settings.val_fraction, seed, groups)
    val, cal = carve(val, policy, settings.calibration_fraction, seed, groups)
    return Parts(train, val, cal, np.sort(test_rows))
