"""The loader on the real data, and each kind of bad input with the message it must give."""

import numpy as np
import pandas as pd
import pytest

from physml.data.splits import fold_indices, split_indices, split_three
from physml.errors import DataValidationError
from physml.tasks.supercon.data import load_supercon


def test_loads_the_shared_data(supercon_data):
    assert supercon_data.features.shape == (21263, 81)
    assert supercon_data.tc.min() >= 0 and supercon_data.tc.max() == pytest.approx(185.0)
    assert supercon_data.select("seed17").shape == (21263, 17)
    assert len(np.unique(supercon_data.composition_groups())) == 15309


def test_data_dir_from_environment(supercon_dir, monkeypatch):
    monkeypatch.setenv("PHYSML_DATA_DIR", str(supercon_dir.parent))
    assert len(load_supercon().tc) == 21263


def test_grouped_split_keeps_compositions_on_one_side(supercon_data):
    groups = supercon_data.composition_groups()
    train, test = split_indices(len(groups), "grouped", 0.3, 42, groups)
    assert not set(groups[train]) & set(groups[test])
    assert 0.25 < len(test) / len(groups) < 0.35
    random_train, random_test = split_indices(len(groups), "random", 0.3, 42)
    assert len(random_test) == round(0.3 * len(groups)) or abs(len(random_test) - 0.3 * len(groups)) <= 1
    assert set(groups[random_train]) & set(groups[random_test])  # the leak the grouped split removes


@pytest.mark.parametrize("kind", ["random", "grouped"])
def test_validation_part_is_carved_under_the_same_policy(supercon_data, kind):
    groups = supercon_data.composition_groups()
    train, val, test = split_three(len(groups), kind, 0.3, 0.15, 42, groups if kind == "grouped" else None)
    assert len(set(train) | set(val) | set(test)) == len(groups) == len(train) + len(val) + len(test)
    assert 0.25 < len(test) / len(groups) < 0.35 and 0.12 < len(val) / (len(train) + len(val)) < 0.18
    _, rest_test = split_indices(len(groups), kind, 0.3, 42, groups if kind == "grouped" else None)
    assert np.array_equal(np.sort(test), rest_test)  # the test part is the two-way split's: comparable with it
    shared = set(groups[train]) & set(groups[val])
    assert not shared if kind == "grouped" else shared  # grouped: no composition both fits and validates


@pytest.mark.parametrize("kind", ["random", "grouped"])
def test_cross_fitting_folds_hold_each_row_out_once_under_the_policy(supercon_data, kind):
    groups = supercon_data.composition_groups()
    folds = fold_indices(len(groups), kind, 5, 42, groups if kind == "grouped" else None)
    held = np.concatenate([held_rows for _, held_rows in folds])
    assert len(folds) == 5 and np.array_equal(np.sort(held), np.arange(len(groups)))
    for fit_rows, held_rows in folds:
        assert len(fit_rows) + len(held_rows) == len(groups) and 0.17 < len(held_rows) / len(groups) < 0.23
        shared = set(groups[fit_rows]) & set(groups[held_rows])
        assert not shared if kind == "grouped" else shared
    again = fold_indices(len(groups), kind, 5, 43, groups if kind == "grouped" else None)
    assert not np.array_equal(folds[0][1], again[0][1])  # the seed draws the folds


@pytest.fixture
def small_copy(supercon_dir, tmp_path):
    """The first 50 rows of both real files, as plain CSV, to corrupt one way per test."""
    folder = tmp_path / "supercon"
    folder.mkdir()
    for stem in ("train", "unique_m"):
        frame = pd.read_csv(supercon_dir / f"{stem}.csv.gz", nrows=50, dtype=str, keep_default_na=False)
        frame.to_csv(folder / f"{stem}.csv", index=False)
    return folder


def corrupt(folder, stem, edit):
    path = folder / f"{stem}.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame = edit(frame)
    frame.to_csv(path, index=False)


def test_small_copy_is_valid(small_copy):
    assert len(load_supercon(small_copy).tc) == 50


def set_cell(row, column, value):
    def edit(frame):
        frame.loc[row, column] = value
        return frame

    return edit


def zero_row(row):
    def edit(frame):
        elements = [column for column in frame.columns if column not in ("critical_temp", "material")]
        frame.loc[row, elements] = "0"
        return frame

    return edit


@pytest.mark.parametrize(
    "stem, edit, message",
    [
        (
            "train",
            lambda f: f.rename(columns={"mean_fie": "mean_FIE"}),
            "train.csv: column 12 is 'mean_FIE', expected 'mean_fie'",
        ),
        (
            "train",
            lambda f: f.drop(columns=["wtd_std_Valence"]),
            "train.csv: column 81 is 'critical_temp', expected 'wtd_std_Valence'",
        ),
        (
            "train",
            set_cell(6, "gmean_Density", "abc"),
            "train.csv row 7 (line 8), column 'gmean_Density': value 'abc' is not a number",
        ),
        ("train", set_cell(3, "std_fie", ""), "train.csv row 4 (line 5), column 'std_fie': value nan is missing (NaN)"),
        (
            "train",
            set_cell(9, "range_Valence", "inf"),
            "train.csv row 10 (line 11), column 'range_Valence': value 'inf' is infinite",
        ),
        (
            "train",
            set_cell(12, "critical_temp", "-3.5"),
            "train.csv row 13 (line 14), column 'critical_temp': Tc = -3.5 K is outside 0 to 300 K",
        ),
        (
            "unique_m",
            set_cell(20, "critical_temp", "999"),
            "unique_m.csv row 21 (line 22), column 'critical_temp': Tc = 999.0 differs from train.csv",
        ),
        ("unique_m", lambda f: f.iloc[:-1], "unique_m.csv has 49 rows but"),
        (
            "unique_m",
            lambda f: f.drop(columns=["material"]),
            "unique_m.csv: 87 columns, expected 88 (missing ['material'])",
        ),
        (
            "unique_m",
            set_cell(5, "O", "-1"),
            "unique_m.csv row 6 (line 7), column 'O': amount -1 must be a finite number >= 0",
        ),
        ("unique_m", zero_row(8), "unique_m.csv: 1 row(s) have no element with a positive amount (rows 9)"),
        (  # any row, not a sample: the composition of row 41 no longer gives its features
            "unique_m",
            set_cell(40, "Cu", "7"),
            "train.csv row 41 (line 42), column 'wtd_mean_atomic_mass': 81.4567 contradicts the composition in unique_m.csv",
        ),
    ],
)
def test_bad_input_names_file_row_and_column(small_copy, stem, edit, message):
    corrupt(small_copy, stem, edit)
    with pytest.raises(DataValidationError) as caught:
        load_supercon(small_copy)
    assert message in str(caught.value)


def test_missing_file_says_how_to_get_it(tmp_path):
    with pytest.raises(DataValidationError, match=r"train\.csv\]?\[?\.gz\]? not found.*physml data download supercon"):
        load_supercon(tmp_path)


def test_truncated_gzip_is_reported_by_file(small_copy, supercon_dir):
    (small_copy / "train.csv").unlink()
    payload = (supercon_dir / "train.csv.gz").read_bytes()[:5000]
    (small_copy / "train.csv.gz").write_bytes(payload)
    with pytest.raises(DataValidationError, match=r"train\.csv\.gz: cannot be read as CSV"):
        load_supercon(small_copy)


def test_measured_tc_of_a_formula_however_it_is_scaled(supercon_data):
    """`physml supercon predict` prints the data's Tc for a composition it holds: matched on element
    fractions, so YBa2Cu3O7 and Y2Ba4Cu6O14 are the same material."""
    from physml.tasks.composition.formula import parse_formula
    from physml.tasks.supercon.cli import measured_text

    mgb2 = supercon_data.measured(parse_formula("MgB2"))
    assert len(mgb2) >= 5 and 30 < mgb2.median() < 42  # MgB2's Tc is 39 K
    assert mgb2.equals(supercon_data.measured(parse_formula("Mg2B4")))
    assert supercon_data.measured({"Xe": 1.0, "F": 2.0}).empty  # no XeF2 in the data
    assert measured_text(mgb2).startswith(f"measured {mgb2.min():.1f}-{mgb2.max():.1f} K ({len(mgb2)} entries")
    assert measured_text(mgb2.iloc[:0]) == "not in the data set"
