"""Element descriptors beyond the UCI table's eight properties: 40 properties of every element H to Pu
read from pymatgen's `Element` (position, electronegativity, radii, volumes, melting and boiling
points, ionisation energies, electron affinity, density, thermal conductivity, valence electrons by
orbital and the unfilled ones, oxidation states, metal/metalloid/rare-earth flags, block), each
summarised over a composition's elements by six statistics with the atom fractions x_i as weights
(weighted mean, min, max, range, weighted mean absolute deviation, the value of the most abundant
element), and 16 properties of the composition itself (p-norms of the fractions, the valence
electrons' shares by orbital, Pauling's ionic character, a band centre, the metal share, an
electronegativity gap and an oxidation-state balance): 256 features, the `descriptors` of the
`all431` feature set (the 175 and these).

Chosen for Matbench's two composition tasks by inner cross-validation on outer fold 0's training rows
(docs/notes/matbench-inner-cv.md): over the 175, they cut the band-gap hurdle's inner MAE from 0.358
to 0.304 eV and raised the metal classifier's balanced accuracy from 0.916 to 0.935. A value pymatgen lacks
is the property's median over H to Pu.
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache

import numpy as np
import pandas as pd

STATISTICS = ("wmean", "min", "max", "range", "wmad", "mode")
NORMS = (2, 3, 5, 7, 10)
ORBITALS = "spdf"
CAPACITY = {"s": 2, "p": 6, "d": 10, "f": 14}
COMPOSITION_FEATURES = (
    *(f"pnorm_{p}" for p in NORMS),
    *(f"valence_share_{o}" for o in ORBITALS),
    "mean_ionic_character",
    "max_ionic_character",
    "band_centre",
    "metal_share",
    "electronegativity_gap",
    "oxidation_balance",
    "abs_oxidation_balance",
)


def number(value) -> float:
    """pymatgen's value as a float: a bare number, a quantity ('1234 K'), or None (missing: NaN)."""
    if value is None:
        return np.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        try:
            return float(str(value).split()[0])
        except ValueError:
            return np.nan


def positive(value) -> float:
    value = number(value)
    return value if value > 0 else np.nan


def valence_electrons(element) -> dict[str, float]:
    """Electrons outside the noble-gas core by orbital: Ga [Ar].3d10.4s2.4p1 -> s 2, p 1, d 10, f 0."""
    counts = dict.fromkeys(ORBITALS, 0.0)
    for token in element.electronic_structure.split("."):
        if match := re.fullmatch(r"\d+([spdf])(\d+)", token):
            counts[match.group(1)] += float(match.group(2))
    return counts


def element_row(element) -> dict[str, float]:
    """The 40 properties of one element."""
    valence = valence_electrons(element)
    unfilled = {o: CAPACITY[o] - n if n > 0 else 0.0 for o, n in valence.items()}
    energies = list(element.ionization_energies)
    states = list(element.common_oxidation_states) or [0]
    row = {
        "Z": float(element.Z),
        "row": float(element.row),
        "group": float(element.group),
        "mendeleev": number(element.mendeleev_no),
        "electronegativity": positive(element.X),
        "atomic_mass": number(element.atomic_mass),
        "atomic_radius": number(element.atomic_radius),
        "atomic_radius_calculated": number(element.atomic_radius_calculated),
        "vdw_radius": number(element.van_der_waals_radius),
        "ionic_radius": positive(element.average_ionic_radius),
        "molar_volume": number(element.molar_volume),
        "melting_point": number(element.melting_point),
        "boiling_point": number(element.boiling_point),
        "ionisation_energy_1": number(energies[0]) if energies else np.nan,
        "ionisation_energy_2": number(energies[1]) if len(energies) > 1 else np.nan,
        "electron_affinity": number(element.electron_affinity),
        "log_density": np.log(positive(element.density_of_solid)),
        "log_thermal_conductivity": np.log(positive(element.thermal_conductivity)),
        **{f"valence_{o}": n for o, n in valence.items()},
        "valence": sum(valence.values()),
        **{f"unfilled_{o}": n for o, n in unfilled.items()},
        "unfilled": sum(unfilled.values()),
        "oxidation_min": float(min(states)),
        "oxidation_max": float(max(states)),
        "is_metal": float(element.is_metal),
        "is_transition_metal": float(element.is_transition_metal),
        "is_metalloid": float(element.is_metalloid),
        "is_rare_earth": float(element.is_rare_earth),
        "is_alkali_or_alkaline_earth": float(element.is_alkali or element.is_alkaline),
        "is_anion_former": float(
            element.is_halogen or element.is_chalcogen or element.symbol in ("N", "P", "As", "C", "H")
        ),
    }
    return row | {f"block_{b}": float(element.block == b) for b in ORBITALS}


@lru_cache(maxsize=4)
def element_properties(symbols: tuple[str, ...]) -> pd.DataFrame:
    """The 40 properties of each element in `symbols` (rows in that order); gaps are the property's median."""
    from pymatgen.core import Element

    with warnings.catch_warnings():  # pymatgen warns for each value it lacks: those are the gaps filled below
        warnings.simplefilter("ignore")
        table = pd.DataFrame([element_row(Element(symbol)) for symbol in symbols], index=list(symbols))
    return table.fillna(table.median())


def property_statistics(fractions: np.ndarray, table: pd.DataFrame) -> dict[str, np.ndarray]:
    """The six statistics of every property over each composition's elements."""
    present = fractions > 0
    most = fractions.argmax(axis=1)
    columns = {}
    for name in table.columns:
        values = table[name].to_numpy()
        mean = fractions @ values
        low = np.where(present, values, np.inf).min(axis=1)
        high = np.where(present, values, -np.inf).max(axis=1)
        spread = (fractions * np.abs(values[None, :] - mean[:, None])).sum(axis=1)
        for stat, column in zip(STATISTICS, (mean, low, high, high - low, spread, values[most])):
            columns[f"{name}_{stat}"] = column
    return columns


def composition_properties(fractions: np.ndarray, table: pd.DataFrame) -> dict[str, np.ndarray]:
    """The 16 properties of each composition as a whole (COMPOSITION_FEATURES)."""
    columns = {f"pnorm_{p}": (fractions**p).sum(axis=1) ** (1.0 / p) for p in NORMS}
    valence = {o: fractions @ table[f"valence_{o}"].to_numpy() for o in ORBITALS}
    total = np.maximum(sum(valence.values()), 1e-12)
    columns |= {f"valence_share_{o}": valence[o] / total for o in ORBITALS}
    chi = table["electronegativity"].to_numpy()
    character = 1.0 - np.exp(-0.25 * (chi[:, None] - chi[None, :]) ** 2)  # Pauling's, of each pair of elements
    columns["mean_ionic_character"] = np.einsum("ni,ij,nj->n", fractions, character, fractions)
    columns["max_ionic_character"] = largest_pair(fractions > 0, character)
    columns["band_centre"] = np.exp(fractions @ np.log(chi))
    metal = table["is_metal"].to_numpy()
    metal_share = fractions @ metal
    columns["metal_share"] = metal_share
    mixed = (metal_share > 1e-9) & (metal_share < 1 - 1e-9)  # not all metal, not all non-metal (up to rounding)
    nonmetal_chi = (fractions * chi * (1 - metal)).sum(axis=1) / np.maximum((fractions * (1 - metal)).sum(axis=1), 1e-9)
    metal_chi = (fractions * chi * metal).sum(axis=1) / np.maximum(metal_share, 1e-9)
    columns["electronegativity_gap"] = np.where(mixed, nonmetal_chi - metal_chi, 0.0)
    # cations (electronegativity below the composition's mean) at their highest common state, anions at their lowest
    cation = chi[None, :] <= (fractions @ chi)[:, None]
    states = np.where(cation, table["oxidation_max"].to_numpy()[None, :], table["oxidation_min"].to_numpy()[None, :])
    columns["oxidation_balance"] = (fractions * states).sum(axis=1)
    columns["abs_oxidation_balance"] = np.abs(columns["oxidation_balance"])
    return columns


def largest_pair(present: np.ndarray, pair_values: np.ndarray) -> np.ndarray:
    """The largest of `pair_values[i, j]` over each row's present elements i, j (0 for one element), over
    the row's own elements only (padded to the most a row has), not every pair of the table's."""
    most = int(present.sum(axis=1).max())
    order = np.argsort(~present, axis=1, kind="stable")[:, :most]  # each row's present elements first
    valid = np.take_along_axis(present, order, axis=1)
    values = pair_values[order[:, :, None], order[:, None, :]]
    values = np.where(valid[:, :, None] & valid[:, None, :], values, 0.0)
    return values.max(axis=(1, 2))


def descriptor_features(amounts: np.ndarray, symbols: tuple[str, ...]) -> pd.DataFrame:
    """Element amounts, (n, len(symbols)) -> the 256 descriptors of each composition."""
    table = element_properties(tuple(symbols))
    amounts = np.asarray(amounts, dtype=float)
    fractions = amounts / amounts.sum(axis=1, keepdims=True)
    return pd.DataFrame(property_statistics(fractions, table) | composition_properties(fractions, table))


def descriptor_names(symbols: tuple[str, ...]) -> tuple[str, ...]:
    properties = element_properties(tuple(symbols)).columns
    return tuple(f"{name}_{stat}" for name in properties for stat in STATISTICS) + COMPOSITION_FEATURES
