"""The completed element table: no composition of a data set is dropped for a gap in the element
table, every filled cell is reported with its source, and pymatgen's values are converted to the
table's own units (checked against the table where both have a value)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from physml.errors import FormulaError
from physml.tasks.composition.elements import PROPERTIES, completed_table, element_table, pymatgen_value
from physml.tasks.composition.formula import featurise_formulas


@pytest.mark.parametrize("prop", [p for p in PROPERTIES if p != "FusionHeat"])
def test_pymatgen_values_are_in_the_tables_units(prop):
    table = element_table()
    pairs = [(pymatgen_value(s, prop), table.loc[s, prop]) for s in table.index]
    pairs = [(ours, theirs) for ours, theirs in pairs if ours is not None and np.isfinite(theirs) and theirs > 0]
    relative = np.array([abs(ours - theirs) / theirs for ours, theirs in pairs])
    assert len(relative) >= 70 and np.median(relative) < 0.01  # the same unit and source, not a factor off


def test_the_completed_table_has_no_gap_and_reports_each_fill():
    table = completed_table()
    assert not np.isnan(table.values).any()
    assert {"U", "Th", "Pm"} <= set(table.symbols) and table.symbols[: len(element_table())] == tuple(
        element_table().index
    )
    filled = table.filled.set_index(["element", "property"])
    assert filled.loc[("U", "atomic_mass"), "source"] == "pymatgen"
    assert filled.loc[("U", "atomic_mass"), "value"] == pytest.approx(238.029, abs=1e-3)
    assert filled.loc[("Pm", "FusionHeat"), "source"] == "median"  # pymatgen has no fusion heats
    known = element_table()[list(PROPERTIES)].to_numpy(dtype=float)
    np.testing.assert_array_equal(table.values[: len(known)][~np.isnan(known)], known[~np.isnan(known)])


@pytest.mark.parametrize("name", ["matbench_expt_gap", "matbench_expt_is_metal"])
def test_every_matbench_composition_gets_finite_features(data_root, name):
    compositions = pd.read_csv(data_root / "matbench" / f"{name}.csv.gz")["composition"]
    features = featurise_formulas(compositions, completed_table())
    assert len(features) == len(compositions) and np.isfinite(features.to_numpy()).all()


def test_the_shipped_table_still_refuses_a_gap():
    with pytest.raises(FormulaError, match="Pm has no FusionHeat"):
        featurise_formulas(["PmCl3"])
    with pytest.raises(FormulaError, match="unknown element 'U'"):
        featurise_formulas(["UO2"])
    assert np.isfinite(featurise_formulas(["UO2", "PmCl3"], completed_table()).to_numpy()).all()
