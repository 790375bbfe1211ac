"""Checks shared by the data loaders; every error names the file, the row (1-based data row and
file line) and the column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from physml.errors import DataValidationError


def where(path: Path, row_index: int) -> str:
    """`train.csv row 7 (line 8)`: the data row counts from 1; the file line includes the header."""
    return f"{path.name} row {row_index + 1} (line {row_index + 2})"


def check_header(path: Path, columns: list[str], expected: list[str]) -> None:
    for position, (got, want) in enumerate(zip(columns, expected)):
        if got != want:
            raise DataValidationError(f"{path}: column {position + 1} is {got!r}, expected {want!r}")
    if len(columns) != len(expected):
        missing = [name for name in expected if name not in columns]
        extra = [name for name in columns if name not in expected]
        detail = f"missing {missing}" if missing else f"unexpected {extra}"
        raise DataValidationError(f"{path}: {len(columns)} columns, expected {len(expected)} ({detail})")


def check_numeric(path: Path, frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell a finite number; else name the first bad cell."""
    numeric = frame.apply(pd.to_numeric, errors="coerce")
    not_number = numeric.isna() & frame.notna()
    for mask, problem in (
        (not_number, "is not a number"),
        (numeric.isna(), "is missing (NaN)"),
        (~np.isfinite(numeric.to_numpy(dtype=float, na_value=0.0)), "is infinite"),
    ):
        mask = np.asarray(mask)
        if mask.any():
            row, col = map(int, np.argwhere(mask)[0])
            raise DataValidationError(
                f"{where(path, row)}, column {frame.columns[col]!r}: value {frame.iat[row, col]!r} {problem}"
            )
    return numeric.astype(float)


def read_csv(path: Path) -> pd.DataFrame:
    """The CSV as text cells; an empty file, or one with a header and no rows, is an error naming it."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        raise DataValidationError(f"{path} is empty (0 bytes or no header)") from None
    except (OSError, EOFError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataValidationError(f"{path}: cannot be read as CSV: {exc}") from None
    if frame.empty:
        raise DataValidationError(f"{path} has a header but no data rows")
    return frame
