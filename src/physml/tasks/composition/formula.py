"""Featuriser: chemical formula -> the 81 UCI features (Hamidieh 2018) and the element fractions.

For a material with k elements, property values t_i and atom fractions p_i = n_i / sum(n), each of
the 8 element properties gives 10 statistics (the definitions of the UCI data's SOURCE.md):
mean, wtd_mean, gmean, wtd_gmean, entropy, wtd_entropy, range, wtd_range, std, wtd_std.
Formulas are parsed by pymatgen's Composition; symbols are then checked against the element table
(pymatgen turns unknown symbols into dummy species rather than failing). Every function takes the
element table to use (elements.py): the shipped one by default (86 elements, H..Rn, gaps refused), or
completed_table() (up to Pu, gaps filled and reported).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Element

from physml.errors import FormulaError
from physml.tasks.composition.elements import PROPERTIES, ElementTable, element_symbols, uci_table

STATISTICS = (
    "mean",
    "wtd_mean",
    "gmean",
    "wtd_gmean",
    "entropy",
    "wtd_entropy",
    "range",
    "wtd_range",
    "std",
    "wtd_std",
)
FEATURE_NAMES: tuple[str, ...] = ("number_of_elements",) + tuple(
    f"{stat}_{prop}" for prop in PROPERTIES for stat in STATISTICS
)
SEED17_FEATURES: tuple[str, ...] = ("number_of_elements",) + tuple(
    f"{stat}_{prop}" for prop in PROPERTIES for stat in ("mean", "std")
)
FRACTION_NAMES: tuple[str, ...] = tuple(f"frac_{symbol}" for symbol in element_symbols())  # n_i / sum(n)
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "all81": FEATURE_NAMES,
    "seed17": SEED17_FEATURES,
    "all167": FEATURE_NAMES + FRACTION_NAMES,  # the 81 and every element's atom fraction (unique_m.csv)
}

_SYMBOL_TOKEN = re.compile(r"[A-Z][a-z]?")


def _neg_xlogx_sum(weights: np.ndarray) -> np.ndarray:
    safe = np.where(weights > 0, weights, 1.0)
    return -np.sum(np.where(weights > 0, weights * np.log(safe), 0.0), axis=1)


def _property_statistics(amounts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(n, 10) statistics of one property for n materials; amounts is (n, n_elements)."""
    present = amounts > 0
    count = present.sum(axis=1)
    fractions = amounts / amounts.sum(axis=1, keepdims=True)
    t = np.where(present, np.nan_to_num(values)[None, :], 0.0)
    log_t = np.log(np.where(present, t, 1.0))
    weighted = fractions * t

    mean = t.sum(axis=1) / count
    wtd_mean = weighted.sum(axis=1)
    gmean = np.exp(log_t.sum(axis=1) / count)
    wtd_gmean = np.exp((fractions * log_t).sum(axis=1))
    entropy = _neg_xlogx_sum(t / t.sum(axis=1, keepdims=True))
    wtd_entropy = _neg_xlogx_sum(weighted / weighted.sum(axis=1, keepdims=True))
    value_range = np.where(present, t, -np.inf).max(axis=1) - np.where(present, t, np.inf).min(axis=1)
    wtd_range = np.where(present, weighted, -np.inf).max(axis=1) - np.where(present, weighted, np.inf).min(axis=1)
    std = np.sqrt(np.where(present, (t - mean[:, None]) ** 2, 0.0).sum(axis=1) / count)
    wtd_std = np.sqrt((fractions * (t - wtd_mean[:, None]) ** 2).sum(axis=1))
    return np.column_stack(
        [mean, wtd_mean, gmean, wtd_gmean, entropy, wtd_entropy, value_range, wtd_range, std, wtd_std]
    )


def check_properties_known(
    amounts: np.ndarray, labels: Iterable[str] | None = None, table: ElementTable | None = None
) -> None:
    """Every present element needs all 8 property values (in the shipped table the noble gases, Pm,
    Po, At and Rn lack some; completed_table() has none missing)."""
    table = table or uci_table()
    missing = np.isnan(table.values)  # (n_elements, 8)
    uses_missing = (amounts > 0) & missing.any(axis=1)[None, :]
    if not uses_missing.any():
        return
    row, col = map(int, np.argwhere(uses_missing)[0])
    label = list(labels)[row] if labels is not None else f"row {row}"
    absent = [prop for prop, gap in zip(PROPERTIES, missing[col]) if gap]
    raise FormulaError(
        f"{label}: element {table.symbols[col]} has no {', '.join(absent)} value in the element table "
        "(the UCI features are undefined for it)"
    )


def element_fractions(amounts: np.ndarray, table: ElementTable | None = None) -> pd.DataFrame:
    """Element amounts, (n, n_elements) in the table's order -> each element's atom fraction (rows sum to 1)."""
    table = table or uci_table()
    amounts = np.asarray(amounts, dtype=float)
    columns = [f"frac_{symbol}" for symbol in table.symbols]
    return pd.DataFrame(amounts / amounts.sum(axis=1, keepdims=True), columns=columns)


def featurise_amounts(
    amounts: np.ndarray, labels: Iterable[str] | None = None, table: ElementTable | None = None
) -> pd.DataFrame:
    """Element amounts, (n, n_elements) in the table's order -> DataFrame of the 81 features."""
    table = table or uci_table()
    amounts = np.asarray(amounts, dtype=float)
    n_elements = len(table.symbols)
    if amounts.ndim != 2 or amounts.shape[1] != n_elements:
        raise FormulaError(f"amounts must have shape (n, {n_elements}), got {amounts.shape}")
    empty = np.flatnonzero((amounts > 0).sum(axis=1) == 0)
    if empty.size:
        raise FormulaError(f"row {int(empty[0])}: composition has no element with a positive amount")
    check_properties_known(amounts, labels, table)
    blocks = [(amounts > 0).sum(axis=1, keepdims=True).astype(float)]
    blocks += [_property_statistics(amounts, table.values[:, j]) for j in range(len(PROPERTIES))]
    return pd.DataFrame(np.hstack(blocks), columns=list(FEATURE_NAMES))


HYDRATE_DOTS = "·•∙⋅"  # CuSO4·5H2O; a "." between digits is a decimal amount (YBa2Cu3O6.95)
MAX_AMOUNT = 1000.0  # the largest amount in the UCI data is 185; larger ones are typing errors
MIN_AMOUNT = 1e-6


def _parts(formula: str) -> list[tuple[float, str]]:
    """`CuSO4·5H2O` -> [(1, 'CuSO4'), (5, 'H2O')]: a hydrate's parts with their multipliers."""
    text = formula.strip()
    for dot in HYDRATE_DOTS:
        text = text.replace(dot, "·")
    parts = []
    for part in text.split("·"):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)?\s*(.*?)\s*", part)
        count, body = match.group(1), match.group(2)
        if not body:
            raise FormulaError(f"formula {formula!r}: an empty part around the hydrate dot")
        parts.append((float(count) if count else 1.0, body))
    return parts


def parse_formula(formula: str, table: ElementTable | None = None) -> dict[str, float]:
    """`Ba0.2La1.8Cu1O4` -> {'Ba': 0.2, 'La': 1.8, 'Cu': 1.0, 'O': 4.0}; an element without a number
    counts 1; a hydrate's parts add up (`CuSO4·5H2O` -> Cu 1, S 1, O 9, H 10)."""
    if not isinstance(formula, str):
        raise FormulaError(f"formula must be a string, got {type(formula).__name__}: {formula!r}")
    if not formula.strip():
        raise FormulaError("formula is empty: give a chemical formula such as 'YBa2Cu3O7'")
    known = set((table or uci_table()).symbols)
    amounts: dict[str, float] = {}
    for count, body in _parts(formula):
        try:
            composition = Composition(body)
        except Exception as exc:  # pymatgen raises ValueError, OverflowError and others for malformed text
            raise FormulaError(f"cannot parse formula {formula!r}: {exc}") from None
        for species, amount in composition.items():
            symbol = getattr(species, "symbol", str(species))
            if not isinstance(species, Element) or symbol not in known:
                raise FormulaError(f"formula {formula!r}: unknown element {symbol!r}")
            amounts[symbol] = amounts.get(symbol, 0.0) + count * float(amount)
    for symbol, amount in amounts.items():
        if not math.isfinite(amount) or not MIN_AMOUNT <= amount <= MAX_AMOUNT:
            raise FormulaError(
                f"formula {formula!r}: amount {amount:g} of {symbol} is outside {MIN_AMOUNT:g} to {MAX_AMOUNT:g}"
            )
    for token in _SYMBOL_TOKEN.findall(formula):
        if token in known and token not in amounts:
            raise FormulaError(f"formula {formula!r}: element {token} has amount 0")
    if not amounts or sum(amounts.values()) <= 0:
        raise FormulaError(f"formula {formula!r} has no element with a positive amount")
    return amounts


def reading(amounts: Mapping[str, float]) -> str:
    """How a formula was understood, e.g. `Cu1 S1 O5.5 H2`."""
    return " ".join(f"{symbol}{amount:g}" for symbol, amount in amounts.items())


def amounts_vector(composition: Mapping[str, float], table: ElementTable | None = None) -> np.ndarray:
    table = table or uci_table()
    vector = np.zeros(len(table.symbols))
    for symbol, amount in composition.items():
        vector[table.index(symbol)] = amount
    return vector


def needs_descriptors(columns: Iterable[str]) -> bool:
    """Whether a model's columns go beyond the 81 and the element fractions (an all431 model)."""
    return any(not (column in FEATURE_NAMES or column.startswith("frac_")) for column in columns)


def featurise_formulas(
    formulas: Iterable[str], table: ElementTable | None = None, descriptors: bool = False
) -> pd.DataFrame:
    """Formulas -> one row each of the 81 features and every element's atom fraction, and with
    `descriptors` the 256 element descriptors (descriptors.py): every column of every feature set
    (index = the formulas as given)."""
    table = table or uci_table()
    formulas = list(formulas)
    if not formulas:
        raise FormulaError("no formula given")
    matrix = np.vstack([amounts_vector(parse_formula(f, table), table) for f in formulas])
    features = featurise_amounts(matrix, labels=[f"formula {f!r}" for f in formulas], table=table)
    frame = pd.concat([features, element_fractions(matrix, table)], axis=1)
    if descriptors:
        from physml.tasks.composition.descriptors import descriptor_features

        frame = pd.concat([frame, descriptor_features(matrix, tuple(table.symbols))], axis=1)
    frame.index = pd.Index(formulas, name="formula")
    return frame
