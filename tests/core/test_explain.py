"""core.explain: captum attributions of the normality score and per transform (its CLI: tests/cli)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.data import load_dataset
from core.detector import GeomDetector
from core.explain import ExplainSettings, explain_score, explain_transforms, transform_log_prob
from core.scores import RunScores


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    data = load_dataset("digits")
    return data.x_test[[int(np.flatnonzero(data.y_test == 3)[0]), int(np.flatnonzero(data.y_test == 0)[0])]]


@pytest.mark.parametrize("method", ["ig", "saliency", "occlusion"])
def test_score_maps_have_the_images_shape(rot4_det: GeomDetector, images: np.ndarray, method: str) -> None:
    calls = []
    a = explain_score(rot4_det, images, ExplainSettings(method=method, n_steps=8, window=8, stride=8),
                      progress=lambda d, n: calls.append((d, n)))
    assert a.maps.shape == (2, 1, 32, 32) and a.pixel_maps().shape == (2, 32, 32)
    assert np.isfinite(a.maps).all() and np.abs(a.maps).sum() > 0
    np.testing.assert_allclose(a.value, rot4_det.score(images), rtol=1e-4)
    assert calls and calls[-1][0] == calls[-1][1]  # progress ends at 100%
    if method == "saliency":
        assert (a.maps >= 0).all()


@pytest.mark.parametrize("score", ["simple", "dirichlet"])
def test_integrated_gradients_completeness(rot4_det: GeomDetector, images: np.ndarray, score: str) -> None:
    """Attributions sum to score(x) - score(black image): captum's convergence delta is that error.

    A ReLU network's gradient jumps along the path, so the error falls like 1/n_steps (measured on this
    model: ~3% at 64 steps, under 1% at 256); 128 steps must be within 3%.
    """
    settings = ExplainSettings(method="ig", score=score, n_steps=128, internal_batch_size=64)
    a = explain_score(rot4_det, images[:1], settings)
    gap = a.value - a.baseline_value
    sums = a.maps.reshape(1, -1).sum(1)
    np.testing.assert_allclose(sums - gap, a.delta, rtol=1e-3, atol=1e-4 * np.abs(gap).max())  # delta is what it says
    assert (np.abs(a.delta) <= 0.03 * np.abs(gap)).all(), (a.delta, gap)


def test_per_transform_maps_and_completeness(rot4_det: GeomDetector, images: np.ndarray) -> None:
    a = explain_transforms(rot4_det, images[:1], settings=ExplainSettings(method="ig", n_steps=128))
    assert a.maps.shape == (4, 1, 32, 32)
    gap = a.value - a.baseline_value
    assert (np.abs(a.delta) <= 0.03 * np.abs(gap) + 2e-3).all(), (a.delta, gap)
    # The target is log p_t(T_t(x)) of the right transform, as the detector computes it.
    p = rot4_det.softmax_matrix(images[:1])[0]
    np.testing.assert_allclose(a.value, np.log(np.diagonal(p)), rtol=1e-3, atol=1e-4)
    one = explain_transforms(rot4_det, images[:1], [2], ExplainSettings(method="saliency"))
    assert one.maps.shape == (1, 1, 32, 32) and "rot180" in one.target
    with pytest.raises(ValueError, match="0..3"):
        explain_transforms(rot4_det, images[:1], [4])
    with pytest.raises(ValueError, match="one image"):
        explain_transforms(rot4_det, images)


def test_transform_log_prob_is_per_row(rot4_det: GeomDetector, images: np.ndarray) -> None:
    x = torch.from_numpy(images.transpose(0, 3, 1, 2) / 127.5 - 1).float()
    both = transform_log_prob(rot4_det, x, torch.tensor([1, 3]))
    first = transform_log_prob(rot4_det, x[:1], torch.tensor([1]))
    torch.testing.assert_close(both[:1], first, rtol=1e-4, atol=1e-5)


def test_settings_are_validated() -> None:
    for bad in (dict(method="lime"), dict(score="max"), dict(baseline="white"), dict(n_steps=1), dict(window=0)):
        with pytest.raises(ValueError):
            ExplainSettings(**bad)


def scores_fixture() -> RunScores:
    return RunScores.from_arrays({
        "test_index": np.array([10, 11, 12, 13, 14, 15, 16]),
        "labels": np.array([3, 3, 3, 3, 0, 1, 2]),
        "is_normal": np.array([1, 1, 1, 1, 0, 0, 0], bool),
        "dirichlet": np.array([5.0, 1.0, 3.0, 4.0, 4.5, -2.0, 0.5]),
        "simple": np.array([0.9, 0.1, 0.5, 0.7, 0.2, 0.3, 0.95]),
    })


def test_typical_normal_is_the_median_normal_image() -> None:
    s = scores_fixture()
    assert s.typical("dirichlet") == 13  # normal scores 1, 3, 4, 5: index len//2 of the sorted = 4.0
    assert s.typical("simple") == 13  # 0.1, 0.5, 0.7, 0.9 -> 0.7


def test_worst_cases_are_the_highest_anomalies_and_lowest_normals() -> None:
    s = scores_fixture()
    w = s.worst_cases("dirichlet", n=2)
    assert [c.test_index for c in w["false_positives"]] == [14, 16]
    assert [c.test_index for c in w["false_negatives"]] == [11, 12]
    fp = w["false_positives"][0]
    assert fp.label == 0 and fp.score == 4.5 and fp.percentile == 75.0  # above 3 of the 4 normal scores
    assert [c.test_index for c in s.worst_cases("simple", n=1)["false_positives"]] == [16]
    with pytest.raises(ValueError):
        s.worst_cases("nope")
