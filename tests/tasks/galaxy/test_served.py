"""The served galaxy model predicts through the same function as evaluation, test-time augmentation
included (preprocess.net_outputs): no server, a small untrained net saved as a run would save it."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from physml.tasks.galaxy.cnn import averaged, build_cnn, conv_layer_names, member_nets
from physml.tasks.galaxy.config import CNNParams
from physml.tasks.galaxy.model import GalaxyModel
from physml.tasks.galaxy.preprocess import RAW_SIZE, net_outputs


@pytest.mark.parametrize("tta", [False, True])
def test_served_model_outputs_what_evaluation_computes(tmp_path, tta):
    net = build_cnn(60, 4, CNNParams(filters=[4, 4, 4], dense_units=8, dropout=0.0))
    net.save(tmp_path / "cnn.keras")
    settings = {"raw_size": RAW_SIZE, "crop": 212, "size": 70, "input_size": 60, "tta": tta}
    (tmp_path / "preprocessing.json").write_text(json.dumps(settings))
    artifacts = {"keras_model": str(tmp_path / "cnn.keras"), "preprocessing": str(tmp_path / "preprocessing.json")}
    served = GalaxyModel()
    served.load_context(SimpleNamespace(artifacts=artifacts))
    images = np.random.default_rng(0).integers(0, 256, size=(6, 60, 60, 3), dtype=np.uint8)
    expected = net_outputs(net, images.astype("float32"), tta)
    np.testing.assert_allclose(served.predict(None, images), expected, atol=1e-6)
    turned = np.ascontiguousarray(np.rot90(images, k=1, axes=(1, 2)))
    assert np.allclose(served.predict(None, turned), expected, atol=1e-5) == tta  # orientation-free only with TTA


def test_a_seed_ensemble_is_served_as_its_members_mean(tmp_path):
    """`averaged` nets (train.members > 1) save as one .keras file: it loads, the served model's output
    is the mean of the members' outputs, and member_nets finds the members again (their own layer names)."""
    small = CNNParams(filters=[4, 4, 4], dense_units=8, dropout=0.0)
    nets = [build_cnn(60, 4, small, name=f"galaxy_cnn_member{k + 1}", prefix=f"m{k + 1}_" if k else "") for k in (0, 1)]
    averaged(nets).save(tmp_path / "cnn.keras")
    settings = {"raw_size": RAW_SIZE, "crop": 212, "size": 70, "input_size": 60, "tta": False}
    (tmp_path / "preprocessing.json").write_text(json.dumps(settings))
    artifacts = {"keras_model": str(tmp_path / "cnn.keras"), "preprocessing": str(tmp_path / "preprocessing.json")}
    served = GalaxyModel()
    served.load_context(SimpleNamespace(artifacts=artifacts))
    images = np.random.default_rng(0).integers(0, 256, size=(5, 60, 60, 3), dtype=np.uint8).astype("float32")
    outputs = [net.predict(images, verbose=0) for net in nets]
    assert np.abs(outputs[0] - outputs[1]).max() > 1e-4  # two different nets
    np.testing.assert_allclose(served.predict(None, images), np.mean(outputs, axis=0), atol=1e-6)
    members = member_nets(served.net)
    assert [net.name for net in members] == ["galaxy_cnn_member1", "galaxy_cnn_member2"]
    assert conv_layer_names(members[0]) == ["conv1", "conv2", "conv3"]  # member 1: the single net's names
    assert member_nets(nets[0]) == [nets[0]]
