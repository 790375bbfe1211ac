import numpy as np
import pandas as pd
import pytest

from physml.errors import FormulaError
from physml.tasks.composition.elements import element_symbols
from physml.tasks.composition.formula import (
    FEATURE_NAMES,
    FEATURE_SETS,
    FRACTION_NAMES,
    SEED17_FEATURES,
    featurise_amounts,
    featurise_formulas,
    parse_formula,
)


def test_featurising_unique_m_reproduces_train_csv(supercon_dir):
    train = pd.read_csv(supercon_dir / "train.csv.gz")
    unique_m = pd.read_csv(supercon_dir / "unique_m.csv.gz")
    got = featurise_amounts(unique_m[element_symbols()].to_numpy())
    expected = train[list(FEATURE_NAMES)].to_numpy()
    close = np.isclose(got.to_numpy(), expected, rtol=1e-6, atol=1e-12)
    rows_matching = int(close.all(axis=1).sum())
    assert rows_matching >= 2000
    assert rows_matching == len(train), f"{len(train) - rows_matching} rows differ"


def test_formula_features_equal_the_dataset_row(supercon_dir):
    train = pd.read_csv(supercon_dir / "train.csv.gz", nrows=1)  # row 0 is Ba0.2La1.8Cu1O4
    features = featurise_formulas(["Ba0.2La1.8Cu1O4"])[list(FEATURE_NAMES)]
    np.testing.assert_allclose(features.iloc[0].to_numpy(), train[list(FEATURE_NAMES)].iloc[0].to_numpy(), rtol=1e-9)


def test_formula_gives_every_feature_set_and_the_data_the_same_fractions(supercon_data):
    features = featurise_formulas(["YBa2Cu3O7", "Ba0.2La1.8Cu1O4"])
    assert list(features.columns) == list(FEATURE_SETS["all167"]) and len(FRACTION_NAMES) == 86
    assert features.loc["YBa2Cu3O7", "frac_Cu"] == pytest.approx(3 / 13) and features.loc["YBa2Cu3O7", "frac_Fe"] == 0
    np.testing.assert_allclose(features[list(FRACTION_NAMES)].sum(axis=1), 1.0)
    table = supercon_data.select("all167")  # row 0 of the data is Ba0.2La1.8Cu1O4
    assert table.shape == (21263, 167)
    np.testing.assert_allclose(features.iloc[1].to_numpy(), table.iloc[0].to_numpy(), rtol=1e-9)


@pytest.mark.parametrize(
    "formula, amounts",
    [
        ("Ba0.2La1.8Cu1O4", {"Ba": 0.2, "La": 1.8, "Cu": 1.0, "O": 4.0}),
        ("MgB2", {"Mg": 1.0, "B": 2.0}),
        ("YBa2Cu3O7", {"Y": 1.0, "Ba": 2.0, "Cu": 3.0, "O": 7.0}),
        ("Nb3Sn", {"Nb": 3.0, "Sn": 1.0}),
    ],
)
def test_parse_formula(formula, amounts):
    assert parse_formula(formula) == pytest.approx(amounts)


def test_single_element_statistics():
    row = featurise_formulas(["Nb"]).iloc[0]
    assert row["number_of_elements"] == 1
    assert row["range_atomic_mass"] == 0 and row["std_fie"] == 0 and row["entropy_Valence"] == 0
    assert row["mean_atomic_mass"] == pytest.approx(92.90638, rel=1e-6)


def test_seed17_is_elements_count_means_and_stds():
    assert len(SEED17_FEATURES) == 17
    assert all(name == "number_of_elements" or name.startswith(("mean_", "std_")) for name in SEED17_FEATURES)


@pytest.mark.parametrize(
    "formula, message",
    [
        ("Xx2O", "formula 'Xx2O': unknown element 'Xx'"),
        ("Ba-1O", "cannot parse formula 'Ba-1O'"),
        ("", "formula is empty"),
        ("   ", "formula is empty"),
        ("Fe2O3)", "cannot parse formula 'Fe2O3)'"),
        ("Cu0O2", "formula 'Cu0O2': element Cu has amount 0"),
        ("HeO", "formula 'HeO': element He has no FusionHeat, Valence value"),
        (None, "formula must be a string, got NoneType"),
    ],
)
def test_bad_formulas_raise_clear_errors(formula, message):
    with pytest.raises(FormulaError) as caught:
        featurise_formulas([formula])
    assert message in str(caught.value)
