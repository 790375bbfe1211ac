"""The decision tree's output layer (model.tree_output): fractions that sum as the GZ2 tree says."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pandas as pd

from physml.tasks import get_task
from physml.tasks.galaxy.cnn import build_cnn, conv_layer_names
from physml.tasks.galaxy.gz2_tree import GZ2
from physml.tasks.galaxy.targets import TARGETS
from physml.tasks.galaxy.tree_output import DecisionTreeFractions, question_order


def test_questions_come_after_the_answers_that_lead_to_them():
    order = question_order(GZ2)
    assert sorted(order) == sorted(GZ2.questions) and order[0] == 1
    seen = set()
    for number in order:
        assert {GZ2.question_of(c.removeprefix("Class")).number for c in GZ2.parents[number]} <= seen
        seen.add(number)


def test_any_logits_give_fractions_that_sum_as_the_tree_says():
    logits = np.random.default_rng(0).normal(0, 4, size=(64, 37)).astype("float32")
    votes = pd.DataFrame(np.asarray(DecisionTreeFractions()(logits)), columns=GZ2.columns)
    assert ((votes >= 0) & (votes <= 1)).all().all()
    np.testing.assert_allclose(GZ2.question_totals(votes), GZ2.expected_totals(votes), atol=1e-5)
    np.testing.assert_allclose(votes[GZ2.questions[1].columns].sum(axis=1), 1, atol=1e-6)
    np.testing.assert_allclose(votes[GZ2.questions[6].columns].sum(axis=1), 1, atol=1e-5)  # every volunteer saw Q6


def test_a_net_with_the_tree_output_saves_and_loads(tmp_path):
    config = get_task("galaxy").load_config(preset="quick")
    net = build_cnn(60, 37, config.model, TARGETS["regression"].output(True))
    images = np.random.default_rng(1).integers(0, 256, size=(8, 60, 60, 3)).astype("float32")
    net.save(tmp_path / "net.keras")
    again = keras.models.load_model(tmp_path / "net.keras")
    np.testing.assert_allclose(again.predict(images, verbose=0), net.predict(images, verbose=0), atol=1e-6)


def test_every_logit_gets_a_gradient():
    import tensorflow as tf

    rng = np.random.default_rng(2)
    logits = tf.Variable(rng.normal(size=(8, 37)).astype("float32"))
    target = rng.uniform(size=(8, 37)).astype("float32")
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(DecisionTreeFractions()(logits) - target))
    gradient = tape.gradient(loss, logits).numpy()
    assert np.isfinite(gradient).all() and (np.abs(gradient).max(axis=0) > 0).all()


def test_the_tree_output_is_for_the_vote_fractions_only():
    assert TARGETS["classes4"].output(True) == "softmax" and TARGETS["classes5"].output(True) == "softmax"
    assert TARGETS["regression"].output(False) == "sigmoid" and TARGETS["regression"].output(True) == "tree"
    strong = get_task("galaxy").load_config(preset="strong")  # physml's recipe: the tree's output for the votes
    assert strong.model.tree_output and strong.data.target == "classes4"


def test_the_votes_preset_is_strong_training_for_the_vote_fractions():
    """`votes` shares `strong`'s training (but for 120 epochs) and evaluation (one YAML anchor each), and
    trains the regression target with the tree's output layer, four conv layers, two dense layers and
    dropout 0.1."""
    task = get_task("galaxy")
    strong, votes = task.load_config(preset="strong"), task.load_config(preset="votes")
    assert votes.data.target == "regression" and votes.model.tree_output
    assert (strong.train.epochs, votes.train.epochs) == (80, 120)
    assert votes.train == dataclasses.replace(strong.train, epochs=120) and votes.evaluation == strong.evaluation
    assert len(votes.model.filters) == len(votes.model.kernel_sizes) == 4 and votes.model.dense_layers == 2
    assert (strong.model.dropout, votes.model.dropout) == (0.3, 0.1)
    built = build_cnn(60, 37, votes.model, output_activation=TARGETS["regression"].output(votes.model.tree_output))
    assert built.output_shape == (None, 37) and len(conv_layer_names(built)) == 4
