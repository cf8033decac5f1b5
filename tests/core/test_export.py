"""core.export: the ONNX graph scores like the detector (ranking and values), for any batch size and
for a confident classifier, and says how to install what it needs where that is missing."""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from core.config import GeomConfig
from core.data import load_dataset
from core.detector import GeomDetector
from core.dirichlet import fit_dirichlet
from core.export import (
    AUROC_DECIMALS,
    EXPORT_PACKAGES,
    SCORE_TOLERANCE,
    MissingPackageError,
    ParityImages,
    check_parity,
    export_onnx,
    onnx_scores,
    onnx_session,
    parity_images,
    require_export_packages,
)
from core.transforms import _index_maps

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def onnx_ready() -> None:
    for name in EXPORT_PACKAGES:
        pytest.importorskip(name, reason=f"{name} is not installed (pip install -r requirements-export.txt)")


@pytest.fixture(scope="module")
def fp32_det(tiny_run) -> GeomDetector:
    return GeomDetector.load(tiny_run.model_path, "cpu", precision="fp32")


@pytest.fixture(scope="module")
def exported(onnx_ready, fp32_det, tmp_path_factory) -> Path:
    return export_onnx(fp32_det, tmp_path_factory.mktemp("onnx") / "tiny.onnx")


def test_export_packages_are_the_requirements_file() -> None:
    listed = re.findall(r"^([A-Za-z0-9_.-]+)==", (REPO / "requirements-export.txt").read_text(), re.M)
    assert sorted(listed) == sorted(EXPORT_PACKAGES)


def test_parity_on_the_tiny_digits_run(tiny_run, fp32_det, exported) -> None:
    sample = parity_images(tiny_run, fp32_det, 60)
    assert "digits test images" in sample.source and sample.is_normal is not None
    report = check_parity(onnx_session(exported), fp32_det, sample)
    assert report.n_images >= 50
    assert round(report.auroc_onnx, AUROC_DECIMALS) == round(report.auroc_torch, AUROC_DECIMALS)
    assert report.same_order and report.max_diff_of_range <= SCORE_TOLERANCE and report.passed


def test_simplified_score_graph_matches(onnx_ready, tiny_run, fp32_det, tmp_path) -> None:
    path = export_onnx(fp32_det, tmp_path / "simple.onnx", "simple")
    report = check_parity(onnx_session(path), fp32_det, parity_images(tiny_run, fp32_det, 40), "simple")
    assert report.passed and report.method == "simple"


def test_batch_size_is_free(fp32_det, exported) -> None:
    """1 and 17 images per call give the same per-image scores, and the graph says its batch is symbolic."""
    session = onnx_session(exported)
    assert isinstance(session.get_inputs()[0].shape[0], str)
    x = load_dataset("digits").x_test[:17]
    one_by_one = onnx_scores(session, x, batch=1)
    together = onnx_scores(session, x, batch=17)
    assert one_by_one.shape == together.shape == (17,)
    assert np.abs(one_by_one - together).max() <= SCORE_TOLERANCE * np.ptp(together)


def test_random_images_when_the_dataset_is_missing(tiny_run, fp32_det, exported) -> None:
    import dataclasses

    elsewhere = dataclasses.replace(tiny_run, meta={**tiny_run.meta, "dataset": "folder:/nowhere/at/all"})
    sample = parity_images(elsewhere, fp32_det, 20)
    assert sample.source.startswith("20 random uint8 images") and "not available here" in sample.source
    assert sample.is_normal is None and sample.images.dtype == np.uint8
    report = check_parity(onnx_session(exported), fp32_det, sample)
    assert report.auroc_torch is None and report.same_order and report.passed


def test_export_leaves_the_detector_scoring(onnx_ready, fp32_det, tmp_path) -> None:
    """Exporting traces with fake tensors; none may stay behind in the transforms' cache."""
    x = load_dataset("digits").x_test[:3]
    before = fp32_det.score(x)
    _index_maps.cache_clear()
    export_onnx(fp32_det, tmp_path / "again.onnx")
    np.testing.assert_array_equal(fp32_det.score(x), before)


def test_missing_packages_say_how_to_install(monkeypatch, tmp_path, fp32_det) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    with pytest.raises(MissingPackageError, match=r"missing: onnxruntime.*pip install -r requirements-export\.txt"):
        require_export_packages()
    with pytest.raises(MissingPackageError):
        export_onnx(fp32_det, tmp_path / "never.onnx")
    assert not (tmp_path / "never.onnx").exists()


# ----- a confident classifier: the failure the detector's float64 softmax was introduced for -------
MARGIN = 40.0
"""Median logit margin given to the confident classifier; the README's ablation classifiers reach 20-32."""


@pytest.fixture(scope="module")
def confident_det() -> tuple[GeomDetector, np.ndarray, np.ndarray]:
    """A rot4 small CNN on digit 3 trained without weight decay, its head scaled so that the right
    transform beats the next one by a median logit margin of MARGIN on the normal test images, and
    its Dirichlets refitted; with the test images and which are normal."""
    data = load_dataset("digits")
    normal = data.x_train[data.y_train == 3]
    cfg = GeomConfig(network="small_cnn", transforms="rot4", in_channels=1, steps=150, batch_size=32, fit_images=100,
                     weight_decay=0.0, precision="fp32", seed=0)
    det = GeomDetector(cfg, "cpu").fit(normal)
    x, is_normal = data.x_test, data.y_test == 3
    factor = MARGIN / float(np.median(_margins(det, x)[is_normal]))
    scaled = copy.deepcopy(det.model)  # a new model object: the detector rebuilds its scoring copy
    head = [m for m in scaled.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        head.weight.mul_(factor)
        head.bias.mul_(factor)
    det.model = scaled
    det.alphas = fit_dirichlet(np.transpose(det.softmax_matrix(normal[:100]), (1, 0, 2)))
    return det, x, is_normal


def _logits(det: GeomDetector, x: np.ndarray) -> torch.Tensor:
    with torch.no_grad():
        return det.inference_model()(det.transforms.apply_all(det.prepare(x)))


def _margins(det: GeomDetector, x: np.ndarray) -> np.ndarray:
    """(N, k): the right transform's logit minus the largest other one, per image and transform."""
    k = len(det.transforms)
    logits = _logits(det, x).view(len(x), k, k)
    others = logits.masked_fill(torch.eye(k, dtype=torch.bool), -torch.inf).amax(2)
    return (torch.diagonal(logits, dim1=1, dim2=2) - others).numpy()


def test_a_confident_classifier_keeps_its_ranking(onnx_ready, confident_det, tmp_path) -> None:
    """The graph's log-softmax neither underflows nor loses the tiny log-probabilities of the right
    transform that the Dirichlet's large alphas weigh: the order of all 360 test images is the detector's."""
    det, x, is_normal = confident_det
    logits = _logits(det, x)
    assert np.median(_margins(det, x)[is_normal]) >= 30
    # far below the old 1e-10 floor, where a softmax-then-log formulation tied confident images
    assert (torch.softmax(logits, 1) < 1e-20).any()
    assert float((logits.amax(1) - logits.amin(1)).max()) < 700  # float64's softmax clips nothing: an exact reference
    session = onnx_session(export_onnx(det, tmp_path / "confident.onnx"))
    report = check_parity(session, det, ParityImages(x, is_normal, "the digits test set"))
    assert report.same_order and report.passed, report
