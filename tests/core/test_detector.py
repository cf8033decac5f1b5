"""GeomDetector end to end: real-data accuracy, persistence, determinism and clear failures."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from core.config import GeomConfig, preset_config
from core.data import DataError, load_dataset
from core.detector import CheckpointError, GeomDetector
from core.experiment import RunRequest, run_one_class
from core.metrics import detection_metrics


@pytest.fixture(scope="module")
def digits_detector():
    data = load_dataset("digits")
    cfg = preset_config("tiny", 32, 1)
    det = GeomDetector(cfg, "cpu").fit(data.x_train[data.y_train == 0])
    return data, det


def test_tiny_mnist_digit1_auroc(real_dataset, shared_data_dir, tmp_path):
    real_dataset("mnist")  # present, or the test skips
    run = run_one_class(RunRequest("mnist", 1, "tiny", 0, "cpu", str(shared_data_dir), str(tmp_path)))
    assert run.metrics["dirichlet"]["auroc"] >= 0.9
    # the run folder holds everything the explorer needs
    scores = run.scores()
    assert scores["dirichlet"].shape == scores["is_normal"].shape == (run.meta["n_test"],)
    assert scores["mean_softmax_normal"].shape == (72, 72)
    np.testing.assert_allclose(scores["mean_softmax_normal"].sum(1), 1, atol=1e-4)


def test_same_seed_same_auroc_on_cpu(tmp_path):
    a = run_one_class(RunRequest("digits", 2, "tiny", 7, "cpu", None, str(tmp_path / "a")))
    b = run_one_class(RunRequest("digits", 2, "tiny", 7, "cpu", None, str(tmp_path / "b")))
    assert a.metrics == b.metrics
    np.testing.assert_array_equal(a.scores()["dirichlet"], b.scores()["dirichlet"])


def test_save_load_identical_scores(digits_detector, tmp_path):
    data, det = digits_detector
    x = data.x_test[:20]
    det.save(tmp_path / "m.pt")
    loaded = GeomDetector.load(tmp_path / "m.pt", "cpu", expected=det.config)
    for method in ("dirichlet", "simple"):
        np.testing.assert_array_equal(det.score(x, method), loaded.score(x, method))
    np.testing.assert_array_equal(det.decision_function(x), -det.score(x))


def test_scores_separate_classes(digits_detector):
    data, det = digits_detector
    x = data.x_test
    normal = data.y_test == 0
    assert detection_metrics(normal, det.score(x))["auroc"] > 0.8
    p = det.softmax_matrix(x[:3])
    assert p.shape == (3, 72, 72)
    np.testing.assert_allclose(p.sum(-1), 1, atol=1e-4)


def test_checkpoint_from_other_setting_refused(digits_detector, tmp_path):
    _, det = digits_detector
    det.save(tmp_path / "m.pt")
    other = replace(det.config, transforms="flip_rot8")
    with pytest.raises(CheckpointError, match="transforms"):
        GeomDetector.load(tmp_path / "m.pt", "cpu", expected=other)
    with pytest.raises(CheckpointError, match="in_channels"):
        GeomDetector.load(tmp_path / "m.pt", "cpu", expected=replace(det.config, in_channels=3))
    with pytest.raises(CheckpointError, match="network"):
        GeomDetector.load(tmp_path / "m.pt", "cpu", expected=replace(det.config, network="small_cnn"))


def test_corrupt_or_foreign_checkpoint(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="not a readable GEOM checkpoint"):
        GeomDetector.load(bad)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError, match="not a GEOM checkpoint"):
        GeomDetector.load(foreign)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        GeomDetector.load(tmp_path / "missing.pt")


def test_wrong_image_shape_refused(digits_detector):
    _, det = digits_detector
    with pytest.raises(ValueError, match="do not fit this detector"):
        det.score(np.zeros((2, 32, 32, 3), np.uint8))


def test_unfitted_detector_says_so():
    with pytest.raises(RuntimeError, match="not fitted"):
        GeomDetector(GeomConfig(), "cpu").score(np.zeros((1, 32, 32, 3), np.uint8))


def test_data_error_is_raised_for_unknown_dataset():
    with pytest.raises(DataError, match="folder:PATH"):
        load_dataset("imagenet")
