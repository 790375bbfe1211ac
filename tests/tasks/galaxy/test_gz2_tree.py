import numpy as np
import pandas as pd
import pytest

from physml.tasks.galaxy.gz2_tree import GZ2, MORPHOLOGY


def test_tree_columns_are_the_kaggle_header(galaxy_dir):
    header = pd.read_csv(galaxy_dir / "training_solutions_rev1.csv", nrows=0).columns
    assert GZ2.columns == list(header[1:]) and len(GZ2.columns) == 37


def test_tree_structure():
    assert GZ2.parents[1] == []
    assert GZ2.parents[2] == ["Class1.2"]
    assert sorted(GZ2.parents[5]) == [
        "Class11.1",
        "Class11.2",
        "Class11.3",
        "Class11.4",
        "Class11.5",
        "Class11.6",
        "Class4.2",
    ]
    assert GZ2.parents[10] == ["Class4.1"]


def test_real_votes_satisfy_the_tree(galaxy_dir):
    votes = pd.read_csv(galaxy_dir / "training_solutions_rev1.csv")
    deviation = (GZ2.question_totals(votes) - GZ2.expected_totals(votes)).abs().to_numpy().max()
    assert deviation < 1e-5


def one_galaxy(**answers):
    row = pd.DataFrame([{column: 0.0 for column in GZ2.columns}])
    for column, value in answers.items():
        row[column.replace("_", ".")] = value
    return row


@pytest.mark.parametrize(
    "answers, expected",
    [
        (dict(Class1_1=1.0, Class7_1=1.0, Class6_2=1.0), "elliptical"),
        (
            dict(
                Class1_2=1.0,
                Class2_2=1.0,
                Class3_2=1.0,
                Class4_1=1.0,
                Class10_1=1.0,
                Class11_2=1.0,
                Class5_2=1.0,
                Class6_2=1.0,
            ),
            "spiral",
        ),
        (
            dict(
                Class1_2=1.0,
                Class2_2=1.0,
                Class3_1=1.0,
                Class4_1=1.0,
                Class10_1=1.0,
                Class11_2=1.0,
                Class5_2=1.0,
                Class6_2=1.0,
            ),
            "barred_spiral",
        ),
        (dict(Class1_2=1.0, Class2_1=1.0, Class9_1=1.0, Class6_2=1.0), "edge_on"),
        (dict(Class1_3=1.0, Class6_2=1.0), "other"),
        (dict(Class1_2=1.0, Class2_2=1.0, Class3_2=1.0, Class4_2=1.0, Class5_1=1.0, Class6_2=1.0), "other"),
    ],
)
def test_labels_follow_the_tree(answers, expected):
    probs = GZ2.class_probabilities(one_galaxy(**answers))
    assert probs.idxmax(axis=1).iloc[0] == expected
    assert probs.sum(axis=1).iloc[0] == pytest.approx(1.0)


def test_normalisation_uses_each_questions_total():
    # half the volunteers saw features; of those, 0.3 of 0.5 said spiral: p(spiral | reached Q4) = 0.6
    row = one_galaxy(Class1_1=0.5, Class1_2=0.5, Class2_2=0.5, Class3_2=0.5, Class4_1=0.3, Class4_2=0.2, Class6_2=1.0)
    normalised = GZ2.normalised(row)
    assert normalised["4.1"].iloc[0] == pytest.approx(0.6)
    assert GZ2.class_probabilities(row)["spiral"].iloc[0] == pytest.approx(0.5 * 1.0 * 1.0 * 0.6)


def test_real_label_counts(galaxy_dir):
    probs = GZ2.class_probabilities(pd.read_csv(galaxy_dir / "training_solutions_rev1.csv"))
    counts = probs.idxmax(axis=1).value_counts()
    assert set(counts.index) == set(MORPHOLOGY) | {"other"}
    assert counts["elliptical"] > counts["spiral"] > counts["edge_on"] > counts["barred_spiral"] > 100
    assert np.isclose(probs.to_numpy().sum(axis=1), 1.0).all()
