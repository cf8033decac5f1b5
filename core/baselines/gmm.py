"""A Gaussian mixture fitted from soft memberships, and its sample energy: DAGMM's density estimator.

DAGMM (Zong et al., ICLR 2018, Section 3.3) never runs EM: its estimation network predicts each
sample's membership gamma (N, K) in K components, and the mixture follows from them in closed form,

- phi_k = mean_i gamma_ik,
- mu_k = sum_i gamma_ik z_i / sum_i gamma_ik,
- Sigma_k = sum_i gamma_ik (z_i - mu_k)(z_i - mu_k)^T / sum_i gamma_ik,

and the sample energy is E(z) = -log sum_k phi_k N(z; mu_k, Sigma_k).

Numerics: everything is float64; ``eps`` is added to every covariance diagonal (the authors added
about 1e-3, as noise of mean 1e-3 and SD 1e-4), so each Sigma_k is positive definite and its
Cholesky factor exists; the Mahalanobis terms come from triangular solves, the log-determinants from
the factors' diagonals, and the sum over components is a log-sum-exp. No floor is added to the
density: the authors' code added 1e-7 to each component's density, which caps every energy at
about 15 and ties the far-away images; the exact energy keeps their order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

_TINY = 1e-12  # floor on a component's total membership, so an unused component divides by no zero


@dataclass(frozen=True)
class GaussianMixture:
    """phi (K,), mu (K, D), cov (K, D, D), all float64."""

    phi: torch.Tensor
    mu: torch.Tensor
    cov: torch.Tensor

    @classmethod
    def from_memberships(cls, z: torch.Tensor, gamma: torch.Tensor, eps: float) -> GaussianMixture:
        """The mixture that soft memberships ``gamma`` (N, K) give features ``z`` (N, D); differentiable."""
        z, gamma = z.double(), gamma.double()
        weight = gamma.sum(0).clamp_min(_TINY)  # (K,)
        mu = gamma.T @ z / weight[:, None]
        diff = z[None] - mu[:, None]  # (K, N, D)
        cov = torch.einsum("nk,knd,kne->kde", gamma, diff, diff) / weight[:, None, None]
        cov = cov + eps * torch.eye(z.shape[1], dtype=cov.dtype, device=cov.device)
        return cls(gamma.mean(0), mu, cov)

    def energy(self, z: torch.Tensor) -> torch.Tensor:
        """(N,) float64 sample energies -log p(z): higher = less likely = more anomalous."""
        chol = torch.linalg.cholesky(self.cov)  # (K, D, D)
        diff = (z.double()[None] - self.mu[:, None]).transpose(1, 2)  # (K, D, N)
        maha = torch.linalg.solve_triangular(chol, diff, upper=False).square().sum(1)  # (K, N)
        log_det = 2 * torch.log(torch.diagonal(chol, dim1=1, dim2=2)).sum(1)  # (K,)
        log_norm = log_det + z.shape[1] * math.log(2 * math.pi)
        log_joint = torch.log(self.phi)[:, None] - 0.5 * (maha + log_norm[:, None])
        return -torch.logsumexp(log_joint, dim=0)

    def diagonal_penalty(self) -> torch.Tensor:
        """sum_k sum_j 1 / Sigma_k,jj: DAGMM's guard against a component collapsing onto a point."""
        return torch.diagonal(self.cov, dim1=1, dim2=2).reciprocal().sum()

    def state(self) -> dict[str, torch.Tensor]:
        return {"phi": self.phi.detach().cpu(), "mu": self.mu.detach().cpu(), "cov": self.cov.detach().cpu()}

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor]) -> GaussianMixture:
        phi, mu, cov = (state[k].to(torch.float64) for k in ("phi", "mu", "cov"))
        k, d = mu.shape
        if phi.shape != (k,) or cov.shape != (k, d, d):
            raise ValueError(f"mixture weights {tuple(phi.shape)}, means {tuple(mu.shape)} and covariances "
                             f"{tuple(cov.shape)} disagree")
        return cls(phi, mu, cov)
