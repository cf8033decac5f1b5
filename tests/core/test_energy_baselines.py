"""DSEBM and DAGMM: the energy, the score matching step, the mixture, training, seeds and checkpoints.

What every baseline shares (beating chance on digits, refusing too few images, the run folder
layout) is tested over the registry in test_baselines.py; here is what is their own.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from core.baselines import BaselineFitError, load_baseline
from core.baselines.dagmm import DAGMM, DAGMMNet
from core.baselines.dsebm import DSEBM, EnergyNet
from core.baselines.gmm import GaussianMixture
from core.baselines.training import train_epochs
from core.data import as_model_input, load_dataset

# A few steps on one digits class: seconds on a busy 2-core CPU.
SMALL = {"dsebm": {"epochs": 3, "batch_size": 64}, "dagmm": {"epochs": 4, "batch_size": 64}}
CLASSES = {"dsebm": DSEBM, "dagmm": DAGMM}


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Digits 0 (normal, train) and the test 0s and 1s."""
    d = load_dataset("digits")
    keep = np.isin(d.y_test, [0, 1])
    return d.x_train[d.y_train == 0], d.x_test[keep], d.y_test[keep] == 0


def make(method: str, **overrides):
    cls = CLASSES[method]
    return cls(cls.preset_config("tiny", **{**SMALL[method], **overrides}), "cpu")


@pytest.fixture(scope="module")
def fitted(digits) -> dict:
    return {m: make(m).fit(digits[0]) for m in CLASSES}


# ----- DSEBM ----------------------------------------------------------------------------------------
def test_energy_is_the_prior_minus_the_code_and_denoising_steps_down_it() -> None:
    """With the encoding layer at zero, E(x) = 0.5 ||x - b'||^2, so x~ - dE/dx~ lands exactly on b'."""
    torch.manual_seed(0)
    net = EnergyNet(32, 1, 16).eval()
    dense = net.encoder[-2]
    torch.nn.init.zeros_(dense.weight)
    torch.nn.init.zeros_(dense.bias)
    with torch.no_grad():
        net.prior.copy_(torch.rand(1, 32, 32) - 0.5)
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    expected = 0.5 * ((x - net.prior) ** 2).flatten(1).sum(1)
    torch.testing.assert_close(net(x), expected)
    torch.testing.assert_close(net.denoise(x), net.prior.expand_as(x).detach(), atol=1e-6, rtol=0)


def test_dsebm_energy_is_its_anomaly_score_and_training_lowers_the_score_matching_loss(fitted, digits) -> None:
    det = fitted["dsebm"]
    x_test = digits[1]
    np.testing.assert_array_equal(det.decision_function(x_test), det.energy(as_model_input(x_test)))
    loss = det.fit_info["epoch_loss"]
    assert len(loss) == SMALL["dsebm"]["epochs"] and loss[-1] < 0.9 * loss[0], loss


# ----- the mixture ----------------------------------------------------------------------------------
def _mixture_data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    z = np.concatenate([rng.normal(0, 1, (60, 3)), rng.normal(4, 0.5, (40, 3))])
    gamma = rng.dirichlet(np.ones(2), size=100)
    return torch.from_numpy(z), torch.from_numpy(gamma)


def test_mixture_from_hard_memberships_is_each_groups_share_mean_and_covariance() -> None:
    z, _ = _mixture_data()
    gamma = torch.zeros(100, 2, dtype=torch.float64)
    gamma[:60, 0] = gamma[60:, 1] = 1
    gmm = GaussianMixture.from_memberships(z, gamma, eps=1e-3)
    torch.testing.assert_close(gmm.phi, torch.tensor([0.6, 0.4], dtype=torch.float64))
    for k, part in enumerate((z[:60].numpy(), z[60:].numpy())):
        np.testing.assert_allclose(gmm.mu[k].numpy(), part.mean(0))
        np.testing.assert_allclose(gmm.cov[k].numpy(), np.cov(part.T, bias=True) + 1e-3 * np.eye(3), atol=1e-12)
    expected = sum(1 / np.diag(c) for c in gmm.cov.numpy()).sum()
    assert float(gmm.diagonal_penalty()) == pytest.approx(expected)


def test_mixture_energy_is_minus_the_log_density_even_far_away() -> None:
    """-log sum_k phi_k N(z; mu_k, Sigma_k) as scipy computes it, also where the density underflows."""
    z, gamma = _mixture_data()
    gmm = GaussianMixture.from_memberships(z, gamma, eps=1e-3)
    points = np.concatenate([z[:5].numpy(), [[300.0, -200.0, 100.0]]])
    log_parts = [np.log(gmm.phi[k].item()) + multivariate_normal(gmm.mu[k].numpy(), gmm.cov[k].numpy()).logpdf(points)
                 for k in range(2)]
    expected = -logsumexp(np.stack(log_parts), axis=0)
    energy = gmm.energy(torch.from_numpy(points)).numpy()
    np.testing.assert_allclose(energy, expected, rtol=1e-9)
    assert np.isfinite(energy).all() and energy[-1] > 1e4  # no floor on the density: far stays far


def test_mixture_state_round_trip_and_refuses_mismatched_shapes() -> None:
    gmm = GaussianMixture.from_memberships(*_mixture_data(), eps=1e-3)
    again = GaussianMixture.from_state(gmm.state())
    z = _mixture_data(1)[0]
    torch.testing.assert_close(again.energy(z), gmm.energy(z), rtol=0, atol=0)
    with pytest.raises(ValueError, match="disagree"):
        GaussianMixture.from_state({**gmm.state(), "phi": torch.ones(3)})


# ----- DAGMM ----------------------------------------------------------------------------------------
def test_dagmm_features_are_the_code_the_relative_distance_and_the_cosine() -> None:
    torch.manual_seed(0)
    cfg = DAGMM.preset_config("tiny")
    net = DAGMMNet(32, 1, cfg).eval()
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        x_rec, z, gamma = net(x)
        flat, rec = x.flatten(1), x_rec.flatten(1)
        torch.testing.assert_close(z[:, :cfg.code_dim], net.encoder(x))
        torch.testing.assert_close(z[:, -2], (flat - rec).norm(dim=1) / flat.norm(dim=1))
        torch.testing.assert_close(z[:, -1], (flat * rec).sum(1) / (flat.norm(dim=1) * rec.norm(dim=1)))
    assert gamma.shape == (4, cfg.n_components)
    torch.testing.assert_close(gamma.sum(1), torch.ones(4))


def test_dagmm_scores_by_the_training_sets_mixture_and_its_loss_falls(fitted, digits) -> None:
    det = fitted["dagmm"]
    x_train = as_model_input(digits[0])
    z, gamma = det.embed(x_train)
    refit = GaussianMixture.from_memberships(z, gamma, det.config.cov_eps)
    torch.testing.assert_close(refit.mu, det.mixture.mu)  # kept from the whole training set, in inference mode
    x_test = digits[1]
    np.testing.assert_array_equal(det.decision_function(x_test), det.mixture.energy(det.embed(
        as_model_input(x_test))[0]).numpy())
    loss = det.fit_info["epoch_loss"]
    assert len(loss) == SMALL["dagmm"]["epochs"] and loss[-1] < 0.9 * loss[0], loss
    assert sum(det.fit_info["phi"]) == pytest.approx(1, abs=1e-4)


# ----- both: seeds, checkpoints, bad input ----------------------------------------------------------
@pytest.mark.parametrize("method", list(CLASSES))
def test_same_seed_same_scores_other_seed_other_scores(method: str, digits) -> None:
    x_normal, x_test, _ = digits
    short = {"epochs": 1, "max_train_images": 64}
    first, again = (make(method, **short).fit(x_normal).score(x_test) for _ in range(2))
    np.testing.assert_array_equal(again, first)
    assert not np.array_equal(make(method, seed=1, **short).fit(x_normal).score(x_test), first)


@pytest.mark.parametrize("method", list(CLASSES))
def test_checkpoint_round_trip_gives_identical_scores(method: str, fitted, digits, tmp_path: Path) -> None:
    det = fitted[method]
    det.save(tmp_path / "model.pt")
    again = load_baseline(tmp_path / "model.pt", "cpu")
    assert type(again) is type(det) and again.config == det.config
    np.testing.assert_array_equal(again.score(digits[1]), det.score(digits[1]))


@pytest.mark.parametrize("method", list(CLASSES))
def test_bad_input_is_refused(method: str, fitted, digits) -> None:
    det = fitted[method]
    with pytest.raises(ValueError, match="do not fit"):
        det.score(np.zeros((2, 32, 32, 3), np.uint8))
    assert det.score(np.zeros((0, 32, 32, 1), np.uint8)).shape == (0,)
    with pytest.raises(RuntimeError, match="not fitted"):
        make(method).score(digits[1])
    with pytest.raises(BaselineFitError, match="32x32 or 64x64"):
        make(method).fit(np.zeros((4, 28, 28, 1), np.uint8))


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="noise_std"):
        DSEBM(replace(DSEBM.preset_config("tiny"), noise_std=0.0))
    with pytest.raises(ValueError, match="n_components"):
        DAGMM(replace(DAGMM.preset_config("tiny"), n_components=0))
    with pytest.raises(ValueError, match="cov_eps"):
        DAGMM(replace(DAGMM.preset_config("tiny"), cov_eps=0.0))


def test_a_diverging_training_stops_with_a_reason() -> None:
    x = torch.zeros(8, 1, 4, 4)
    w = torch.nn.Parameter(torch.ones(1))
    opt = torch.optim.SGD([w], lr=0.1)
    with pytest.raises(BaselineFitError, match="toy: the loss became nan in epoch 1/2"):
        train_epochs(x, lambda batch: w * float("nan"), opt, 2, 4, torch.Generator().manual_seed(0),
                     torch.device("cpu"), lambda _f, _t: None, "toy")
