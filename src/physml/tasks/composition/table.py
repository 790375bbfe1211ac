"""A YAML task's data: the CSV that task.yaml names, checked row by row and featurised.

Every formula gets features: elements the shipped table lacks values for (U, Th, Pm, ...) take them
from the completed table (elements.completed_table: pymatgen's data, else the property's median),
and `filled_cells` says which of those cells this data set uses, so a run logs them. Every problem is
one DataValidationError naming the file, the row (1-based data row and the file line) and the column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from physml.data.validate import read_csv, where
from physml.errors import DataValidationError, FormulaError
from physml.tasks.composition.descriptors import descriptor_features
from physml.tasks.composition.elements import completed_table
from physml.tasks.composition.formula import (
    FEATURE_NAMES,
    amounts_vector,
    element_fractions,
    featurise_amounts,
    parse_formula,
)
from physml.tasks.composition.spec import CompositionSpec


@dataclass(frozen=True)
class CompositionTable:
    """The checked rows of a task's data file and their features."""

    path: Path
    frame: pd.DataFrame  # the file's id, formula, target and fold columns, as read
    features: pd.DataFrame  # the 81 property statistics, then frac_<element> for every element H..Pu
    target: pd.Series
    formulas: pd.Series
    ids: pd.Series | None
    folds: pd.Series | None  # the official outer test fold of each row
    groups: np.ndarray  # rows with the same element fractions share an id (the grouped split's groups)
    filled_cells: pd.DataFrame  # element, property, value, source of each imputed cell these rows use
    amounts: np.ndarray | None = None  # each row's element amounts, in the completed table's order
    symbols: tuple[str, ...] = ()  # that order
    computed: dict = field(default_factory=dict, repr=False, compare=False)  # the descriptors, once made

    def select(self, feature_set: str) -> pd.DataFrame:
        """all81: the property statistics; all175: and the element fractions; all431: and the 256
        element descriptors (descriptors.py, computed on first use)."""
        if feature_set == "all81":
            return self.features[list(FEATURE_NAMES)]
        if feature_set == "all431":
            if "descriptors" not in self.computed:
                self.computed["descriptors"] = descriptor_features(self.amounts, self.symbols)
            return pd.concat([self.features, self.computed["descriptors"]], axis=1)
        return self.features


def data_path(spec: CompositionSpec, folder: Path) -> Path:
    path = folder / Path(spec.data).name
    if not path.exists():
        raise DataValidationError(
            f"{path} not found (task.yaml's data: {spec.data}): point --data-dir at its folder, "
            "or PHYSML_DATA_DIR at the data root"
        )
    return path


def load_table(spec: CompositionSpec, folder: Path, max_rows: int = 0, seed: int = 0) -> CompositionTable:
    """The rows of the task's file in `folder`, checked; `max_rows` > 0 keeps a seeded sample of them."""
    path = data_path(spec, folder)
    raw = read_csv(path)
    wanted = [c for c in (spec.id, spec.composition, spec.target, spec.folds) if c]
    missing = [c for c in wanted if c not in raw.columns]
    if missing:
        raise DataValidationError(
            f"{path}: no column {missing[0]!r} (task.yaml names it; columns: {', '.join(raw.columns)})"
        )
    frame = raw[wanted]
    if max_rows and max_rows < len(frame):
        keep = np.sort(np.random.default_rng(seed).choice(len(frame), size=max_rows, replace=False))
        frame = frame.iloc[keep]
    target = checked_target(spec, path, frame)
    folds = checked_folds(spec, path, frame) if spec.folds else None
    amounts = formula_amounts(spec, path, frame)
    table = completed_table()
    features = pd.concat([featurise_amounts(amounts, table=table), element_fractions(amounts, table)], axis=1)
    used = {symbol for symbol, count in zip(table.symbols, (amounts > 0).sum(axis=0)) if count}
    frame = frame.reset_index(drop=True)
    _, groups = np.unique(np.round(features.filter(like="frac_").to_numpy(), 9), axis=0, return_inverse=True)
    return CompositionTable(
        path=path,
        frame=frame,
        features=features,
        target=target.reset_index(drop=True),
        formulas=frame[spec.composition].astype(str),
        ids=frame[spec.id] if spec.id else None,
        folds=folds.reset_index(drop=True) if folds is not None else None,
        groups=groups.ravel(),
        filled_cells=table.filled[table.filled["element"].isin(used)].reset_index(drop=True),
        amounts=amounts,
        symbols=tuple(table.symbols),
    )


def formula_amounts(spec: CompositionSpec, path: Path, frame: pd.DataFrame) -> np.ndarray:
    """Each row's element amounts (n_rows, n_elements of the completed table); a formula that cannot be
    read names its row."""
    table = completed_table()
    rows = []
    for row, formula in enumerate(frame[spec.composition]):
        try:
            rows.append(amounts_vector(parse_formula(formula, table), table))
        except FormulaError as exc:
            raise DataValidationError(f"{where(path, row)}, column {spec.composition!r}: {exc}") from None
    return np.vstack(rows) if rows else np.zeros((0, len(table.symbols)))


def checked_target(spec: CompositionSpec, path: Path, frame: pd.DataFrame) -> pd.Series:
    values = pd.to_numeric(frame[spec.target], errors="coerce")
    bad = np.flatnonzero(~np.isfinite(values.to_numpy(dtype=float)))
    if bad.size:
        row = int(bad[0])
        raise DataValidationError(
            f"{where(path, row)}, column {spec.target!r}: {frame[spec.target].iat[row]!r} is not a finite number"
        )
    if spec.kind == "classification":
        labels = ~values.isin([0, 1]).to_numpy()
        if labels.any():
            row = int(np.flatnonzero(labels)[0])
            raise DataValidationError(f"{where(path, row)}, column {spec.target!r}: {values.iat[row]:g} is not 0 or 1")
        return values.astype("int64")
    return values.astype("float64")


def checked_folds(spec: CompositionSpec, path: Path, frame: pd.DataFrame) -> pd.Series:
    values = pd.to_numeric(frame[spec.folds], errors="coerce")
    bad = np.flatnonzero(~(values.notna() & (values >= 0) & (values == values.round())).to_numpy())
    if bad.size:
        row = int(bad[0])
        raise DataValidationError(
            f"{where(path, row)}, column {spec.folds!r}: {frame[spec.folds].iat[row]!r} is not a fold number (0, 1, ...)"
        )
    return values.astype("int64")
