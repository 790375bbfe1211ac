"""A data set's digest over every row: what runs log as their dataset input's digest, and what
promotion and `physml reproduce` compare.

MLflow's own digest of a pandas dataset reads only the first 10,000 rows and the row count
(mlflow/data/digest_utils.py, MAX_ROWS), so an edit further down a table would leave it unchanged;
physml passes this one instead.
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd


def frame_digest(frame: pd.DataFrame) -> str:
    """SHA-256 (first 16 hex digits) of the column names and every cell of every row, index included."""
    digest = hashlib.sha256(json.dumps([str(column) for column in frame.columns]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()[:16]
