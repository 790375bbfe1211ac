"""An output layer that can only answer as the Galaxy Zoo 2 decision tree allows (Dieleman et al. 2015).

The 37 vote fractions are not free: a question's answers sum to the total of the answers that lead
to it (gz2_tree.py). A sigmoid per fraction ignores that; this layer builds it in. Per question, a
softmax over its answers' logits gives each answer's share, and the share times the question's total
(1 for the root; else the sum of its parents' outputs, computed first) is the answer's fraction. The
net then learns shares, as volunteers answered, and its 37 outputs always sum as the tree says.
Dieleman normalised rectified outputs by their sum instead; a softmax does the same job and never
divides by zero.
"""

from __future__ import annotations

import keras
from keras import ops

from physml.tasks.galaxy.gz2_tree import GZ2, DecisionTree


def question_order(tree: DecisionTree) -> list[int]:
    """Question numbers in an order where each comes after the questions its parent answers belong to."""

    def asked_before(number: int) -> set[int]:
        return {tree.question_of(column.removeprefix("Class")).number for column in tree.parents[number]}

    ordered: list[int] = []
    pending = sorted(tree.questions)
    while pending:
        ready = [number for number in pending if asked_before(number) <= set(ordered)]
        if not ready:
            raise ValueError(f"the decision tree has a cycle among questions {pending}")
        ordered += ready
        pending = [number for number in pending if number not in ready]
    return ordered


@keras.saving.register_keras_serializable(package="physml")
class DecisionTreeFractions(keras.layers.Layer):
    """(N, 37) logits in Kaggle's column order -> (N, 37) vote fractions consistent with the GZ2 tree."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        columns = GZ2.columns
        position = {column: index for index, column in enumerate(columns)}
        self.n_outputs = len(columns)
        # per question, in order: its answers' positions and the positions of the answers leading to it
        self.steps = [
            ([position[c] for c in GZ2.questions[number].columns], [position[c] for c in GZ2.parents[number]])
            for number in question_order(GZ2)
        ]

    def call(self, logits):
        fractions: dict[int, object] = {}
        for answers, parents in self.steps:
            shares = ops.softmax(ops.take(logits, answers, axis=-1), axis=-1)
            if parents:
                total = ops.sum(ops.stack([fractions[p] for p in parents], axis=-1), axis=-1, keepdims=True)
                shares = shares * total
            for index, position in enumerate(answers):
                fractions[position] = shares[:, index]
        return ops.stack([fractions[position] for position in range(self.n_outputs)], axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape
