"""core.ascent (paper Figure 1): the differentiable score and gradient ascent on the input (its CLI: tests/cli)."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch

from core.ascent import AscentSettings, _update_mask, gaussian_blur, gradient_ascent, normality_score, to_uint8
from core.data import load_dataset, to_model_input
from core.detector import GeomDetector


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    data = load_dataset("digits")
    return data.x_test[[int(np.flatnonzero(data.y_test == 0)[0]), int(np.flatnonzero(data.y_test == 3)[0])]]


def overconfident(det: GeomDetector, factor: float) -> GeomDetector:
    """``det`` with its logits multiplied by ``factor``: wrong transforms get probabilities far below 1e-10."""
    scaled = copy.copy(det)
    scaled.model = copy.deepcopy(det.model)  # a new model object, so the detector rebuilds its inference copy
    with torch.no_grad():
        scaled.model.fc.weight.mul_(factor)
        scaled.model.fc.bias.mul_(factor)
    return scaled


@pytest.mark.parametrize("factor", [1.0, 100.0])
@pytest.mark.parametrize("method", ["simple", "dirichlet"])
def test_torch_score_equals_the_detectors_score(rot4_det: GeomDetector, images: np.ndarray, method: str,
                                                factor: float) -> None:
    det = overconfident(rot4_det, factor)
    if factor > 1:  # the regime where a fixed clip at 1e-10 used to flatten the detector's logs
        assert det.softmax_matrix(images).min() < 1e-20
    ours = normality_score(det, to_model_input(images), method).detach().numpy()
    ref = det.score(images, method)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5)
    if method == "dirichlet":  # and both equal the formula on float64 log-softmax, with nothing clipped
        k = len(det.transforms)
        with torch.no_grad():
            logits = det.model.eval()(det.transforms.apply_all(to_model_input(images))).double()
        log_p = torch.log_softmax(logits, 1).view(len(images), k, k)
        exact = ((torch.from_numpy(det.alphas) - 1) * log_p).sum((1, 2)).numpy()
        np.testing.assert_allclose(ref, exact, rtol=1e-6)


def test_score_has_a_gradient_in_the_pixels(rot4_det: GeomDetector, images: np.ndarray) -> None:
    x = to_model_input(images).requires_grad_(True)
    grad, = torch.autograd.grad(normality_score(rot4_det, x, "dirichlet").sum(), x)
    assert grad.shape == x.shape and grad.abs().sum() > 0


@pytest.mark.parametrize("method", ["simple", "dirichlet"])
def test_ascent_raises_the_score_and_keeps_pixels_in_range(rot4_det: GeomDetector, images: np.ndarray,
                                                           method: str) -> None:
    settings = AscentSettings(steps=12, step_size=0.05, method=method, frame_every=5)
    r = gradient_ascent(rot4_det, images, settings)
    assert r.frame_steps == [0, 5, 10, 12]
    assert r.frames.shape == (4, 2, 1, 32, 32)
    assert r.frames.min() >= -1.0 and r.frames.max() <= 1.0
    np.testing.assert_allclose(r.start, to_model_input(images).numpy())
    curve = r.scores
    assert curve.shape == (13, 2)
    assert (curve[-1] > curve[0]).all()  # the score rose for both images
    if method == "simple":  # smooth enough that (almost) every step goes uphill
        assert np.mean(np.diff(curve, axis=0) > -1e-6) > 0.8
    assert r.difference.shape == (2, 1, 32, 32) and np.abs(r.difference).max() > 0
    s = r.summary()
    assert s[f"{method}_after"] > s[f"{method}_before"] and s["mean_abs_change"] > 0


def test_unclipped_ascent_may_leave_the_range_clipped_never(rot4_det: GeomDetector, images: np.ndarray) -> None:
    big = AscentSettings(steps=4, step_size=0.5, keep_top=None, smooth_sigma=0.0, frame_every=1)
    clipped = gradient_ascent(rot4_det, images[:1], big)
    assert clipped.frames.min() >= -1 and clipped.frames.max() <= 1
    free = gradient_ascent(rot4_det, images[:1], replace(big, clip=False))
    assert free.frames.min() < -1 or free.frames.max() > 1


def test_ascent_accepts_float_images_and_checks_shape(rot4_det: GeomDetector) -> None:
    x = torch.full((1, 1, 32, 32), -1.0)
    r = gradient_ascent(rot4_det, x, AscentSettings(steps=2, frame_every=1))
    assert r.frames.shape[0] == 3
    with pytest.raises(ValueError, match="do not fit"):
        gradient_ascent(rot4_det, torch.zeros(1, 3, 32, 32), AscentSettings(steps=1))


def test_settings_are_validated() -> None:
    for bad in (dict(steps=0), dict(step_size=0), dict(method="max"), dict(keep_top=0), dict(keep_top=1.5),
                dict(smooth_sigma=-1), dict(frame_every=0)):
        with pytest.raises(ValueError):
            AscentSettings(**bad)


def test_blur_keeps_constants_and_mass() -> None:
    x = torch.full((2, 1, 16, 16), 0.3)
    torch.testing.assert_close(gaussian_blur(x, 1.0), x)
    spike = torch.zeros(1, 1, 16, 16)
    spike[0, 0, 8, 8] = 1
    blurred = gaussian_blur(spike, 1.0)
    assert blurred.sum().item() == pytest.approx(1.0, abs=1e-5) and blurred[0, 0, 8, 8] < 0.5
    assert gaussian_blur(spike, 0) is spike


def test_update_mask_keeps_the_top_fraction() -> None:
    g = torch.arange(100, dtype=torch.float32).view(1, 1, 10, 10)
    m = _update_mask(g, torch.ones_like(g), 0.2)
    assert m.sum().item() == 20 and m.view(-1)[80:].all()
    assert _update_mask(g, g, None).all()


def test_to_uint8_round_trips_dataset_pixels(images: np.ndarray) -> None:
    np.testing.assert_array_equal(to_uint8(to_model_input(images).numpy()), images)
