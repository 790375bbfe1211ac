"""The Galaxy Zoo 2 decision tree as data (Willett et al. 2013; the Kaggle Galaxy Challenge columns).

Questions and answers are small objects; which answer leads to which question is data too. Label
definitions, the CSV header and the consistency checks are all derived from this one table.

Kaggle's weighting: a question's answers sum to the total of the answers that lead to it (Q1 sums
to 1, Q2 to Class1.2, Q10 and Q11 to Class4.1, ...). Every volunteer was asked Q6 ("anything odd?"),
also after "star or artifact", so Q6 sums to 1 too; the table records that as 1.3 -> Q6.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Answer:
    id: str  # "1.2"
    text: str
    leads_to: int | None  # next question number, None = end of the tree

    @property
    def column(self) -> str:
        return f"Class{self.id}"


@dataclass(frozen=True)
class Question:
    number: int
    text: str
    answers: tuple[Answer, ...]

    @property
    def columns(self) -> list[str]:
        return [answer.column for answer in self.answers]


def _q(number: int, text: str, *answers: tuple[str, int | None]) -> Question:
    return Question(
        number, text, tuple(Answer(f"{number}.{i + 1}", label, nxt) for i, (label, nxt) in enumerate(answers))
    )


QUESTIONS: tuple[Question, ...] = (
    _q(
        1,
        "Is the galaxy simply smooth and rounded, with no sign of a disk?",
        ("smooth", 7),
        ("features or disk", 2),
        ("star or artifact", 6),
    ),
    _q(2, "Could this be a disk viewed edge-on?", ("yes", 9), ("no", 3)),
    _q(3, "Is there a sign of a bar feature through the centre of the galaxy?", ("bar", 4), ("no bar", 4)),
    _q(4, "Is there any sign of a spiral arm pattern?", ("spiral", 10), ("no spiral", 5)),
    _q(
        5,
        "How prominent is the central bulge?",
        ("no bulge", 6),
        ("just noticeable", 6),
        ("obvious", 6),
        ("dominant", 6),
    ),
    _q(6, "Is there anything odd?", ("yes", 8), ("no", None)),
    _q(7, "How rounded is it?", ("completely round", 6), ("in between", 6), ("cigar-shaped", 6)),
    _q(
        8,
        "Is the odd feature a ring, or is the galaxy disturbed or irregular?",
        ("ring", None),
        ("lens or arc", None),
        ("disturbed", None),
        ("irregular", None),
        ("other", None),
        ("merger", None),
        ("dust lane", None),
    ),
    _q(
        9,
        "Does the galaxy have a bulge at its centre? If so, what shape?",
        ("rounded", 6),
        ("boxy", 6),
        ("no bulge", 6),
    ),
    _q(10, "How tightly wound do the spiral arms appear?", ("tight", 11), ("medium", 11), ("loose", 11)),
    _q(
        11,
        "How many spiral arms are there?",
        ("1", 5),
        ("2", 5),
        ("3", 5),
        ("4", 5),
        ("more than four", 5),
        ("can't tell", 5),
    ),
)

# Morphology classes of the seed study: each is the product of these answers' normalised fractions.
# "other" is the rest: 1 - the sum of the four (features without spiral arms, odd smooth galaxies,
# stars and artifacts).
MORPHOLOGY: dict[str, tuple[str, ...]] = {
    "elliptical": ("1.1", "6.2"),
    "spiral": ("1.2", "2.2", "3.2", "4.1"),
    "barred_spiral": ("1.2", "2.2", "3.1", "4.1"),
    "edge_on": ("1.2", "2.1"),
}
OTHER = "other"


class DecisionTree:
    def __init__(self, questions: tuple[Question, ...] = QUESTIONS):
        self.questions = {q.number: q for q in questions}

    @cached_property
    def columns(self) -> list[str]:
        """The 37 answer columns in Kaggle order (Class1.1 ... Class11.6)."""
        return [column for number in sorted(self.questions) for column in self.questions[number].columns]

    @cached_property
    def answers(self) -> dict[str, Answer]:
        return {a.id: a for q in self.questions.values() for a in q.answers}

    @cached_property
    def parents(self) -> dict[int, list[str]]:
        """Question number -> the answer columns that lead to it (empty for the root, Q1)."""
        found: dict[int, list[str]] = {number: [] for number in self.questions}
        for answer in self.answers.values():
            if answer.leads_to is not None:
                found[answer.leads_to].append(answer.column)
        return found

    def question_of(self, answer_id: str) -> Question:
        return self.questions[int(answer_id.split(".")[0])]

    def expected_totals(self, votes: pd.DataFrame) -> pd.DataFrame:
        """Per question, the total its answers should sum to (1 for the root)."""
        return pd.DataFrame(
            {n: votes[cols].sum(axis=1) if cols else 1.0 for n, cols in self.parents.items()}, index=votes.index
        )

    def question_totals(self, votes: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({n: votes[q.columns].sum(axis=1) for n, q in self.questions.items()}, index=votes.index)

    def normalised(self, votes: pd.DataFrame) -> pd.DataFrame:
        """Each answer divided by its question's total (0 where nobody reached the question)."""
        totals = self.question_totals(votes)
        out = {}
        for answer in self.answers.values():
            total = totals[self.question_of(answer.id).number].to_numpy()
            share = votes[answer.column].to_numpy()
            out[answer.id] = np.divide(share, total, out=np.zeros_like(share, dtype=float), where=total > 0)
        return pd.DataFrame(out, index=votes.index)

    def class_probabilities(self, votes: pd.DataFrame, include_other: bool = True) -> pd.DataFrame:
        """Products of normalised fractions along the tree, one column per morphology class."""
        normalised = self.normalised(votes)
        probs = pd.DataFrame(
            {name: normalised[list(path)].prod(axis=1) for name, path in MORPHOLOGY.items()}, index=votes.index
        )
        if include_other:
            probs[OTHER] = (1.0 - probs.sum(axis=1)).clip(lower=0.0)
        return probs


GZ2 = DecisionTree()
