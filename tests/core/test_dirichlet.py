"""The Dirichlet fit must recover known parameters and beat a generic optimiser, without NaNs."""

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import digamma

from core.dirichlet import (
    dirichlet_log_likelihood,
    dirichlet_score,
    fit_dirichlet,
    inv_digamma,
    simple_score,
)


def test_inv_digamma_inverts():
    x = np.array([1e-3, 0.1, 1.0, 3.0, 50.0, 1e4])
    np.testing.assert_allclose(inv_digamma(digamma(x)), x, rtol=1e-8)


def test_recovers_alphas_k72():
    rng = np.random.default_rng(0)
    true = rng.uniform(0.2, 5.0, size=72)
    samples = rng.dirichlet(true, size=5000)
    est = fit_dirichlet(samples)
    assert np.max(np.abs(est / true - 1)) < 0.06
    assert np.median(np.abs(est / true - 1)) < 0.02


def test_vectorised_over_transforms_matches_single_fits():
    rng = np.random.default_rng(1)
    stack = np.stack([rng.dirichlet(rng.uniform(0.5, 3, 6), size=800) for _ in range(4)])
    batched = fit_dirichlet(stack)
    for t in range(4):
        np.testing.assert_allclose(batched[t], fit_dirichlet(stack[t]), rtol=1e-10)


def test_likelihood_at_least_scipy_optimum():
    rng = np.random.default_rng(2)
    samples = rng.dirichlet(rng.uniform(0.3, 4, 8), size=2000)
    est = fit_dirichlet(samples)
    res = minimize(lambda la: -dirichlet_log_likelihood(samples, np.exp(la)), np.zeros(8), method="L-BFGS-B")
    assert dirichlet_log_likelihood(samples, est) >= -res.fun - 1e-9


def test_no_nan_on_exact_zeros():
    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.full(5, 0.3), size=300).astype(np.float32)
    p[:, 0] = 0.0  # float32 softmax underflow
    p /= p.sum(1, keepdims=True)
    alpha = fit_dirichlet(p)
    assert np.isfinite(alpha).all() and (alpha > 0).all()
    scores = dirichlet_score(p[:, None, :], alpha[None])
    assert np.isfinite(scores).all()


def test_scores_rank_confident_correct_softmax_higher():
    k = 4
    sharp = np.full((1, k, k), 0.01)
    np.fill_diagonal(sharp[0], 0.97)
    flat = np.full((1, k, k), 1 / k)
    alphas = np.full((k, k), 1.0) + 30 * np.eye(k)
    assert dirichlet_score(sharp, alphas)[0] > dirichlet_score(flat, alphas)[0]
    assert simple_score(sharp)[0] == pytest.approx(0.97)
    assert simple_score(flat)[0] == pytest.approx(0.25)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_confidence_beyond_a_fixed_epsilon_still_ranks(dtype: type) -> None:
    """A classifier 1e13 : 1 sure is less sure than one 1e30 : 1 sure; a fixed 1e-10 clip tied them."""
    alphas = np.array([[50.0, 0.2], [0.2, 50.0]])

    def softmax(wrong: float) -> np.ndarray:
        return np.array([[[1 - wrong, wrong], [wrong, 1 - wrong]]], dtype=dtype)

    less_sure, surer = dirichlet_score(softmax(1e-13), alphas)[0], dirichlet_score(softmax(1e-30), alphas)[0]
    assert surer > less_sure
    assert surer - less_sure == pytest.approx(2 * 0.8 * np.log(1e17), rel=1e-3)  # sum_t (1 - 0.2) * log(1e-13 / 1e-30)
