"""The small CNN option: shapes, config validation, and a detector that trains, scores and reloads with it."""

import numpy as np
import pytest
import torch

from core.config import GeomConfig
from core.data import load_dataset
from core.detector import GeomDetector
from core.small_cnn import SmallCNN
from core.train import build_model


@pytest.mark.parametrize("size,channels", [(32, 1), (64, 3)])
def test_output_shape(size, channels):
    net = SmallCNN(5, channels, size)
    assert net(torch.zeros(2, channels, size, size)).shape == (2, 5)


def test_config_picks_the_network_and_refuses_unknown_ones():
    assert isinstance(build_model(GeomConfig(network="small_cnn", transforms="flip", in_channels=1)), SmallCNN)
    assert GeomConfig().network == "wrn" and GeomConfig.from_dict({"width": 1}).network == "wrn"  # old run.json files
    with pytest.raises(ValueError, match="unknown network 'mlp'.*wrn, small_cnn"):
        GeomConfig(network="mlp")


def test_small_cnn_detector_scores_and_reloads_identically(tmp_path):
    data = load_dataset("digits")
    cfg = GeomConfig(network="small_cnn", transforms="rot4", in_channels=1, steps=30, batch_size=32, fit_images=60,
                     precision="fp32")
    det = GeomDetector(cfg, "cpu").fit(data.x_train[data.y_train == 3][:150])
    assert det.inference_model() is det.model  # no BN to fold: scored as trained
    x = data.x_test[:20]
    det.save(tmp_path / "m.pt")
    again = GeomDetector.load(tmp_path / "m.pt", "cpu", expected=cfg)
    assert isinstance(again.model, SmallCNN)
    np.testing.assert_allclose(again.score(x), det.score(x), rtol=1e-5)
