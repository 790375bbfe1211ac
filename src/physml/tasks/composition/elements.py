"""The element property table behind the 81 composition features (shipped as package data).

`element_properties.csv` is a copy of the element table that comes with the UCI critical-temperature
data of Hamidieh 2018 (its SOURCE.md gives sources, units and corrections): 86 elements, H to Rn. The eight
properties, in the UCI column order, are in PROPERTIES.

That table leaves gaps (Pm has no fusion heat, the noble gases no valence) and stops at Rn, while
composition data sets hold U, Th and other heavier elements. `completed_table()` fills them: first from
pymatgen's element data converted to the table's units (the conversions the table's own sources
used), else with the property's median over the table, and says which cells it filled and how.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
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
EV_TO_KJ_PER_MOL = 96.485
HEAVIEST = 94  # Pu: completed_table() adds Fr ... Pu after the table's Rn


@dataclass(frozen=True)
class ElementTable:
    """Element symbols, their (n_elements, 8) property values and the cells filled in (empty: none)."""

    symbols: tuple[str, ...]
    values: np.ndarray
    filled: pd.DataFrame  # element, property, value, source (pymatgen | median)

    def index(self, symbol: str) -> int:
        return self.symbols.index(symbol)


@lru_cache(maxsize=1)
def element_table() -> pd.DataFrame:
    """86 elements (H..Rn) indexed by symbol, one column per property (NaN where unknown)."""
    with resources.files("physml.tasks.composition").joinpath("element_properties.csv").open() as handle:
        table = pd.read_csv(handle, index_col="symbol")
    return table


def element_symbols() -> list[str]:
    return list(element_table().index)


def property_matrix() -> np.ndarray:
    """(n_elements, 8) float array in element_symbols() order."""
    return element_table()[list(PROPERTIES)].to_numpy(dtype=float)


@lru_cache(maxsize=1)
def uci_table() -> ElementTable:
    """The table as shipped: an element with a gap cannot be featurised (the UCI features are undefined)."""
    empty = pd.DataFrame(columns=["element", "property", "value", "source"])
    return ElementTable(tuple(element_symbols()), property_matrix(), empty)


@lru_cache(maxsize=1)
def completed_table() -> ElementTable:
    """Every element up to Pu with every property: the table's values, its gaps and the elements
    after Rn from pymatgen where it has the property, else the property's median over the table."""
    from pymatgen.core import Element

    known = element_table()[list(PROPERTIES)]
    heavier = [Element.from_Z(z).symbol for z in range(Element(known.index[-1]).Z + 1, HEAVIEST + 1)]
    table = pd.concat([known, pd.DataFrame(np.nan, index=heavier, columns=list(PROPERTIES))])
    medians = known.median()
    filled = []
    for symbol, prop in zip(*np.nonzero(table.isna().to_numpy())):
        element, name = table.index[symbol], PROPERTIES[prop]
        value = pymatgen_value(element, name)
        source = "pymatgen" if value is not None else "median"
        table.iloc[symbol, prop] = value if value is not None else medians[name]
        filled.append((element, name, float(table.iloc[symbol, prop]), source))
    report = pd.DataFrame(filled, columns=["element", "property", "value", "source"])
    return ElementTable(tuple(table.index), table.to_numpy(dtype=float), report)


def pymatgen_value(symbol: str, prop: str) -> float | None:
    """One property of one element from pymatgen's data, in the table's unit; None where it has none."""
    from pymatgen.core import Element

    element = Element(symbol)
    readers = {
        "atomic_mass": lambda: float(element.atomic_mass),
        "fie": lambda: float(element.ionization_energies[0]) * EV_TO_KJ_PER_MOL,
        "atomic_radius": lambda: float(element.atomic_radius_calculated or element.atomic_radius) * 100,  # Å -> pm
        "Density": lambda: float(element.density_of_solid),  # kg/m^3
        "ElectronAffinity": lambda: float(element.electron_affinity) * EV_TO_KJ_PER_MOL + 1.5,  # the table's offset
        "FusionHeat": lambda: None,  # pymatgen has no enthalpy of fusion
        "ThermalConductivity": lambda: float(str(element.thermal_conductivity).split()[0]),  # W/(m K)
        "Valence": lambda: float(max(abs(state) for state in element.common_oxidation_states)),
    }
    with warnings.catch_warnings():  # pymatgen warns for each value it lacks
        warnings.simplefilter("ignore")
        try:
            value = readers[prop]()
        except (TypeError, ValueError, AttributeError, IndexError):
            return None
    return value if value is not None and np.isfinite(value) and value > 0 else None
