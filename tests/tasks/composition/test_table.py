"""A YAML task's data file checked row by row: each problem is one line naming the file, the row and
the column; every Matbench composition gets features (U, Th and Pm from the completed element table)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from physml.errors import DataValidationError
from physml.tasks.composition.elements import completed_table
from physml.tasks.composition.formula import featurise_formulas
from physml.tasks.composition.spec import load_spec
from physml.tasks.composition.table import load_table

PROJECTS = Path(__file__).resolve().parents[3] / "projects"


def write(tmp_path: Path, rows: dict) -> Path:
    frame = pd.DataFrame(
        {"mbid": ["a", "b", "c"], "composition": ["Fe2O3", "Cu", "NaCl"], "gap expt": [2.1, 0, 8.5], "fold": [0, 1, 2]}
    )
    for column, values in rows.items():
        if values is None:
            frame = frame.drop(columns=column)
        else:
            frame[column] = values
    path = tmp_path / "matbench_expt_gap.csv.gz"
    frame.to_csv(path, index=False)
    return tmp_path


@pytest.mark.parametrize(
    "rows, expected",
    [
        ({"gap expt": None}, "no column 'gap expt' (task.yaml names it"),
        (
            {"composition": ["Fe2O3", "Qq3", "NaCl"]},
            "row 2 (line 3), column 'composition': formula 'Qq3': unknown element 'Qq'",
        ),
        ({"gap expt": ["2.1", "n/a", "1"]}, "row 2 (line 3), column 'gap expt': 'n/a' is not a finite number"),
        ({"fold": [0, -1, 2]}, "row 2 (line 3), column 'fold': '-1' is not a fold number"),
    ],
)
def test_bad_rows_are_one_line_naming_file_row_and_column(tmp_path, rows, expected):
    spec = load_spec(PROJECTS / "expt_gap")
    with pytest.raises(DataValidationError) as caught:
        load_table(spec, write(tmp_path, rows))
    message = str(caught.value)
    assert expected in message and "\n" not in message and "matbench_expt_gap.csv.gz" in message


def test_a_classification_label_must_be_0_or_1(tmp_path):
    spec = load_spec(PROJECTS / "expt_is_metal")
    frame = pd.DataFrame({"mbid": ["a", "b"], "composition": ["Fe2O3", "Cu"], "is_metal": [0, 2], "fold": [0, 1]})
    frame.to_csv(tmp_path / "matbench_expt_is_metal.csv.gz", index=False)
    with pytest.raises(DataValidationError, match=r"row 2 \(line 3\), column 'is_metal': 2 is not 0 or 1"):
        load_table(spec, tmp_path)


def test_every_matbench_composition_gets_features(data_root):
    spec = load_spec(PROJECTS / "expt_gap")
    table = load_table(spec, data_root / "matbench")
    assert len(table.target) == 4604 and np.isfinite(table.features.to_numpy()).all()
    assert table.features.shape[1] == 81 + 94  # property statistics, then H..Pu fractions
    imputed = set(table.filled_cells["element"])
    assert {"U", "Th", "Pm"} <= imputed  # the elements the shipped table cannot featurise
    assert table.folds.value_counts().sort_index().tolist() == [921, 921, 921, 921, 920]


def test_without_a_folds_column_cv_makes_seeded_folds_stratified_for_classification(data_root):
    import dataclasses

    from physml.tasks import get_task
    from physml.tasks.composition.cv import outer_folds

    task = get_task("expt_is_metal")
    table = dataclasses.replace(load_table(task.spec, data_root / "matbench", max_rows=500, seed=1), folds=None)
    protocol, folds = outer_folds(task, table, seed=7)
    assert protocol == "kfold5-seed7" and sorted(np.concatenate(folds).tolist()) == list(range(500))
    share = table.target.mean()
    assert all(abs(table.target.iloc[rows].mean() - share) < 0.02 for rows in folds)  # stratified
    assert [rows.tolist() for rows in outer_folds(task, table, seed=7)[1]] == [rows.tolist() for rows in folds]
    official = outer_folds(task, load_table(task.spec, data_root / "matbench", max_rows=500, seed=1), seed=7)
    assert official[0] == "matbench-v0.1"


def test_a_broken_config_yaml_in_a_task_folder_is_one_line_and_spares_the_other_tasks(tmp_path, monkeypatch, capsys):
    from physml.cli import main

    folder = tmp_path / "my_t"
    folder.mkdir()
    spec = (PROJECTS / "expt_gap" / "task.yaml").read_text().replace("name: expt_gap", "name: my_t")
    (folder / "task.yaml").write_text(spec)
    (folder / "config.yaml").write_text("gbm: {max_depth: -1\n")
    monkeypatch.setenv("PHYSML_PROJECTS_DIR", str(tmp_path))
    assert main(["my_t", "cv", "--preset", "quick"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"physml: error: {folder / 'config.yaml'}: not valid YAML")
    with pytest.raises(SystemExit) as shown:  # every other command still parses
        main(["supercon", "--help"])
    assert shown.value.code == 0


def test_the_descriptors_of_a_known_salt():
    """NaCl's element descriptors, from pymatgen's values: Pauling electronegativities 0.93 and 3.16,
    one valence s electron on Na, s2 p5 on Cl."""
    from physml.tasks.composition.descriptors import COMPOSITION_FEATURES, descriptor_names

    table = completed_table()
    frame = featurise_formulas(["NaCl", "Cu"], table, descriptors=True)
    assert frame.shape[1] == 175 + 256 and list(frame.columns[175:]) == list(descriptor_names(table.symbols))
    assert not frame.isna().any().any()
    salt, metal = frame.loc["NaCl"], frame.loc["Cu"]
    assert salt["electronegativity_min"] == pytest.approx(0.93) and salt["electronegativity_max"] == pytest.approx(3.16)
    assert salt["electronegativity_wmean"] == pytest.approx((0.93 + 3.16) / 2)
    assert salt["valence_s_wmean"] == pytest.approx(1.5) and salt["valence_p_wmean"] == pytest.approx(2.5)
    assert salt["max_ionic_character"] == pytest.approx(1 - np.exp(-0.25 * (3.16 - 0.93) ** 2))
    assert salt["metal_share"] == 0.5 and metal["metal_share"] == 1.0 and metal["electronegativity_gap"] == 0.0
    assert salt["pnorm_2"] == pytest.approx(np.sqrt(0.5)) and metal["pnorm_10"] == pytest.approx(1.0)
    assert len(COMPOSITION_FEATURES) == 16
