"""Dirichlet maximum-likelihood fit of softmax vectors, and the two GEOM normality scores.

For each transform t, the softmax vectors y(T_t(x)) of the normal training images are modelled as
Dirichlet(alpha_t). A test image is scored by the log-likelihood of its own k softmax vectors under
those k Dirichlets (dropping the normalising constants, which do not depend on the image). All k
fits are independent, so everything here is vectorised over the leading (transform) axes.

Estimation follows the paper's Algorithm 1: Wicker et al.'s closed-form initial precision, then
Minka's fixed point with a Newton-refined inverse digamma. A softmax output that underflowed to an
exact zero only says "smaller than this dtype holds", so every log is taken of values clipped to the
smallest normal number of their own dtype and renormalised (see ``safe_log_probs``).
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln, polygamma

_PSI1 = float(digamma(1.0))  # -Euler-Mascheroni


def safe_log_probs(p: np.ndarray) -> np.ndarray:
    """log of probabilities, clipped away from 0 and renormalised over the last axis (float64).

    The floor is the smallest normal number of ``p``'s own dtype, not a fixed epsilon: with a fixed
    1e-10 every image the classifier was more than e^23 : 1 sure about got the same log, so a
    confident classifier (a two-transform ablation trained without weight decay, say) tied hundreds
    of test images and its Dirichlet fit degenerated. The detector hands float64 softmax here.
    """
    arr = np.asarray(p)
    floor = np.finfo(arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float64).tiny
    q = np.clip(arr.astype(np.float64), floor, None)
    q /= q.sum(axis=-1, keepdims=True)
    return np.log(q)


def inv_digamma(y: np.ndarray, newton_steps: int = 5) -> np.ndarray:
    """Inverse of the digamma function (Minka's initialisation plus Newton steps)."""
    y = np.asarray(y, dtype=np.float64)
    large = y >= -2.22
    x = np.where(large, np.exp(y) + 0.5, -1.0 / np.where(large, -1.0, y - _PSI1))
    for _ in range(newton_steps):
        x = x - (digamma(x) - y) / polygamma(1, x)
    return x


def fit_dirichlet(p: np.ndarray, tol: float = 1e-9, max_iter: int = 1000) -> np.ndarray:
    """Maximum-likelihood Dirichlet parameters of samples ``p`` of shape (..., N, k) -> (..., k)."""
    p = np.asarray(p)
    if p.ndim < 2:
        raise ValueError(f"expected samples of shape (..., N, k), got {p.shape}")
    n_samples, k = p.shape[-2], p.shape[-1]
    if n_samples < 2 or k < 2:
        raise ValueError(f"a Dirichlet fit needs at least 2 samples of at least 2 categories, got {p.shape}")
    log_p = safe_log_probs(p)
    mean_log_p = log_p.mean(axis=-2)  # (..., k)
    f = np.exp(log_p).mean(axis=-2)  # the clipped, renormalised mean
    denom = (f * np.log(f)).sum(-1) - (f * mean_log_p).sum(-1)
    # Wicker et al.'s initial precision; denom > 0 by Jensen unless all samples are identical.
    s0 = (k - 1) * (-_PSI1) / np.maximum(denom, 1e-12)
    alpha = f * s0[..., None]
    active = np.ones(alpha.shape[:-1], dtype=bool)
    for _ in range(max_iter):
        new = inv_digamma(digamma(alpha.sum(-1, keepdims=True)) + mean_log_p)
        change = np.sqrt(((new - alpha) ** 2).sum(-1))
        alpha = np.where(active[..., None], new, alpha)
        active &= change >= tol
        if not active.any():
            break
    return alpha


def dirichlet_log_likelihood(p: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Mean log-density of samples (..., N, k) under Dirichlet(alpha (..., k)), per leading index."""
    log_p = safe_log_probs(p)
    norm = gammaln(alpha.sum(-1)) - gammaln(alpha).sum(-1)
    return norm + ((alpha[..., None, :] - 1) * log_p).sum(-1).mean(-1)


def dirichlet_score(softmax: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """GEOM's normality score, higher = more normal.

    softmax: (N, k_t, k) with row t = y(T_t(x)); alphas: (k_t, k). Returns (N,) values of
    sum_t (alpha_t - 1) . log y(T_t(x)). (The authors divide by k, which changes no ranking.)
    """
    return dirichlet_contributions(softmax, alphas).sum(-1)


def dirichlet_contributions(softmax: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """Per-transform terms (N, k_t) of the Dirichlet score: which transforms make an image look odd."""
    return ((np.asarray(alphas)[None] - 1.0) * safe_log_probs(softmax)).sum(-1)


def simple_score(softmax: np.ndarray) -> np.ndarray:
    """The simplified score: mean over t of the probability given to the correct transform t."""
    s = np.asarray(softmax)
    return np.diagonal(s, axis1=-2, axis2=-1).mean(-1)
