"""The served galaxy model predicts through the same function as evaluation, test-time augmentation
included (preprocess.net_outputs): no server, a small untrained net saved as a run would save it."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from physml.tasks.galaxy.cnn import build_cnn
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
