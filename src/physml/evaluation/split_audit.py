"""The split audit: what the training part shares with each other part.

A leak is an overlap the split did not declare: the same record id on both sides; under a split that
declares itself grouped, a group on both sides; where no group key is declared, an identical row
(features and target) on both sides. A random split over repeated groups is not a leak but is
reported: the share of a part's rows whose group was trained on (Kapoor & Narayanan 2023's
"duplicates across train and test")."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class Overlap:
    """What one part shares with the training part."""

    part: str
    rows: int
    shared_ids: int | None = None  # None: no ids declared
    identical_rows: int | None = None  # None: no features declared
    shared_groups: int | None = None  # None: no group key declared
    trained_group_rows: int | None = None  # rows whose group the training part holds

    @property
    def trained_group_share(self) -> float | None:
        return None if self.trained_group_rows is None or not self.rows else self.trained_group_rows / self.rows


@dataclass
class Audit:
    grouped: bool
    overlaps: list[Overlap] = field(default_factory=list)

    def leaks(self) -> list[str]:
        """Each undeclared overlap, in words; empty when there is none."""
        found = []
        for o in self.overlaps:
            if o.shared_ids:
                found.append(f"{o.shared_ids} record ids in both train and {o.part}")
            if self.grouped and o.shared_groups:
                found.append(f"{o.shared_groups} groups in both train and {o.part} under a grouped split")
            if o.shared_groups is None and o.identical_rows:
                found.append(f"{o.identical_rows} identical rows in both train and {o.part}")
        return found


def row_keys(features, y) -> pd.Series:
    """One hash per row of features and target."""
    frame = pd.DataFrame(np.asarray(features).reshape(len(y), -1))
    frame["__y"] = np.asarray(y)
    return pd.Series(pd.util.hash_pandas_object(frame, index=False).to_numpy())


def as_text(values) -> pd.Series:
    return pd.Series(np.asarray(values)).astype(str)


def overlap(name: str, train, part) -> Overlap:
    """What `part` (an EvidencePart) shares with `train`."""
    found = Overlap(name, len(part.y))
    if train.ids is not None and part.ids is not None:
        found.shared_ids = int(as_text(part.ids).isin(set(as_text(train.ids))).sum())
    if train.features is not None and part.features is not None:
        found.identical_rows = int(row_keys(part.features, part.y).isin(set(row_keys(train.features, train.y))).sum())
    if train.groups is not None and part.groups is not None:
        trained = set(as_text(train.groups))
        inside = as_text(part.groups).isin(trained)
        found.trained_group_rows = int(inside.sum())
        found.shared_groups = int(as_text(part.groups)[inside].nunique())
    return found


def audit(parts: dict, grouped: bool) -> Audit:
    """Every part against the training part."""
    train = parts["train"]
    return Audit(grouped, [overlap(name, train, part) for name, part in parts.items() if name != "train"])
