"""The element property table behind the 81 UCI features (shipped as package data).

Values come from ../shared/data/supercon/element_properties.csv (see its SOURCE.md for sources,
units and corrections). The eight properties, in the UCI column order:
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

PROPERTIES = (
    "atomic_mass",
    "fie",
    "atomic_radius",
    "Density",
    "ElectronAffinity",
    "FusionHeat",
    "ThermalConductivity",
    "Valence",
)


@lru_cache(maxsize=1)
def element_table() -> pd.DataFrame:
    """86 elements (H..Rn) indexed by symbol, one column per property (NaN where unknown)."""
    with resources.files("physml.tasks.supercon").joinpath("element_properties.csv").open() as handle:
        table = pd.read_csv(handle, index_col="symbol")
    return table


def element_symbols() -> list[str]:
    return list(element_table().index)


def property_matrix() -> np.ndarray:
    """(n_elements, 8) float array in element_symbols() order."""
    return element_table()[list(PROPERTIES)].to_numpy(dtype=float)
