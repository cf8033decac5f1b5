"""ADGAN: the WGAN-GP critic loss, the batched latent search, seeds, checkpoints and bad input.

What every baseline shares (beating chance on digits, refusing too few images, the run folder
layout) is tested over the registry in test_baselines.py; here is what is ADGAN's own.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from core.baselines import BaselineFitError, load_baseline
from core.baselines.adgan import ADGAN, ADGANConfig, GeneratorCopies, critic_loss, search_losses
from core.baselines.cae import conv_decoder
from core.data import as_model_input, load_dataset
from core.metrics import detection_metrics

# A few generator updates on one digits class and a short search: seconds on a busy 2-core CPU.
SMALL = {"steps": 4, "batch_size": 32, "n_seeds": 2, "search_steps": 2}


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """Digits 0 (normal, train) and 12 test images: six 0s, then six 1s."""
    d = load_dataset("digits")
    x_test = np.concatenate([d.x_test[d.y_test == 0][:6], d.x_test[d.y_test == 1][:6]])
    return d.x_train[d.y_train == 0], x_test


def make(**overrides) -> ADGAN:
    return ADGAN(ADGAN.preset_config("tiny", **{**SMALL, **overrides}), "cpu")


@pytest.fixture(scope="module")
def fitted(digits) -> ADGAN:
    return make().fit(digits[0])


def _generator(side: int = 32) -> nn.Sequential:
    """A random generator in inference mode whose BatchNorm statistics are not the identity."""
    torch.manual_seed(0)
    g = conv_decoder(side, 1, 16).eval()
    for m in g.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    return g


# ----- the pieces -----------------------------------------------------------------------------------
def test_wgan_gp_critic_loss_with_a_linear_critic() -> None:
    """D(x) = <a, x> has gradient a everywhere: the penalty is (||a|| - 1)^2 whatever the mix."""
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Flatten(), nn.Linear(16, 1, bias=False))
    a = critic[1].weight.detach().ravel()
    real, fake = torch.randn(5, 1, 4, 4), torch.randn(5, 1, 4, 4)
    loss, distance = critic_loss(critic, real, fake, torch.rand(5, 1, 1, 1), penalty=20.0)
    expected_distance = (real.flatten(1) @ a).mean() - (fake.flatten(1) @ a).mean()
    torch.testing.assert_close(distance, expected_distance)
    torch.testing.assert_close(loss.detach(), 20.0 * (a.norm() - 1) ** 2 - expected_distance)


@pytest.mark.parametrize("side", [32, 64])
def test_generator_copies_compute_the_generator(side: int) -> None:
    """Untouched copies give what the generator gives, each on its own latent vector."""
    g = _generator(side)
    z = torch.randn(3, 16)
    with torch.no_grad():
        torch.testing.assert_close(GeneratorCopies(g, 3)(z), g(z), atol=1e-5, rtol=1e-5)


def test_search_without_steps_is_the_mean_loss_of_the_starts() -> None:
    g, cfg = _generator(), ADGANConfig(latent_dim=16, search_steps=0)
    x, starts = torch.rand(4, 1, 32, 32) * 2 - 1, torch.randn(3, 16)
    with torch.no_grad():
        per_start = torch.stack([((g(s[None]) - x) ** 2).flatten(1).mean(1) for s in starts], dim=1)
    torch.testing.assert_close(search_losses(g, x, starts, cfg), per_start.mean(1))


def test_batched_search_is_independent_plain_searches() -> None:
    """Each (image, start) pair is one Adam search of z and its own generator copy, run as a plain
    module would: one gradient of the pixel MSE moves both, k times; the score averages the final losses."""
    g, cfg = _generator(), ADGANConfig(latent_dim=16, search_steps=3)
    x, starts = torch.rand(2, 1, 32, 32) * 2 - 1, torch.randn(2, 16)
    expected = torch.zeros(2)
    for i, image in enumerate(x):
        for start in starts:
            copy_ = copy.deepcopy(g)
            z = start[None].clone().requires_grad_(True)
            opt_z = torch.optim.Adam([z], lr=cfg.z_lr, betas=cfg.search_betas)
            opt_g = torch.optim.Adam(copy_.parameters(), lr=cfg.generator_lr, betas=cfg.search_betas)
            for _ in range(cfg.search_steps):
                loss = ((copy_(z) - image) ** 2).mean()
                opt_z.zero_grad()
                opt_g.zero_grad()
                loss.backward()
                opt_z.step()
                opt_g.step()
            with torch.no_grad():
                expected[i] += ((copy_(z) - image) ** 2).mean() / len(starts)
    torch.testing.assert_close(search_losses(g, x, starts, cfg), expected, rtol=1e-4, atol=1e-6)
    with torch.no_grad():
        torch.testing.assert_close(g(starts), _generator()(starts))  # the generator itself never moves


# ----- the detector ---------------------------------------------------------------------------------
def test_scores_are_the_negated_mean_search_loss_and_finite(fitted, digits) -> None:
    x_test = digits[1]
    score = fitted.score(x_test)
    assert score.shape == (12,) and np.isfinite(score).all()
    np.testing.assert_array_equal(fitted.decision_function(x_test), fitted.reconstruction_loss(
        as_model_input(x_test)))
    np.testing.assert_array_equal(score, -fitted.decision_function(x_test))
    assert len(fitted.fit_info["wasserstein_estimate"]) == SMALL["steps"]


def test_one_image_scores_the_same_alone_as_in_any_batch(fitted, digits) -> None:
    """Every image starts from the same points and every batch from fresh generator copies, so an
    image's score is its own: alone, in a batch, in another order, or after other images were scored."""
    x_test = digits[1]
    together = fitted.decision_function(x_test)
    alone = np.array([fitted.decision_function(x_test[i:i + 1])[0] for i in (0, 7, 11)])
    np.testing.assert_allclose(alone, together[[0, 7, 11]], rtol=1e-6)
    np.testing.assert_allclose(fitted.decision_function(x_test[::-1])[::-1], together, rtol=1e-6)
    np.testing.assert_array_equal(fitted.decision_function(x_test), together)


def test_normal_images_score_above_their_negatives(fitted, digits) -> None:
    """A white background is far from anything the generator learnt: its images reconstruct worse.
    (Uniform noise would not do: its pixel MSE to a blurry grey image is lower than a digit's.)"""
    normal = digits[1][:6]
    score = fitted.score(np.concatenate([normal, 255 - normal]))
    assert detection_metrics(np.repeat([True, False], 6), score)["auroc"] == 1.0


def test_same_seed_same_scores_other_seed_other_scores(digits) -> None:
    x_normal, x_test = digits
    short = {"steps": 2, "max_train_images": 64}
    first, again = (make(**short).fit(x_normal).score(x_test) for _ in range(2))
    np.testing.assert_array_equal(again, first)
    assert not np.array_equal(make(seed=1, **short).fit(x_normal).score(x_test), first)


def test_checkpoint_round_trip_gives_identical_scores(fitted, digits, tmp_path: Path) -> None:
    fitted.save(tmp_path / "model.pt")
    again = load_baseline(tmp_path / "model.pt", "cpu")
    assert type(again) is ADGAN and again.config == fitted.config
    np.testing.assert_array_equal(again.score(digits[1]), fitted.score(digits[1]))
    state = torch.load(tmp_path / "model.pt", weights_only=True)["state"]
    assert set(state) == {"generator"}  # the critic is discarded after training, as the paper says


def test_bad_input_is_refused(fitted, digits) -> None:
    with pytest.raises(ValueError, match="do not fit"):
        fitted.score(np.zeros((2, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="do not fit"):
        fitted.score(np.zeros((2, 64, 64, 1), np.uint8))
    assert fitted.score(np.zeros((0, 32, 32, 1), np.uint8)).shape == (0,)
    with pytest.raises(RuntimeError, match="not fitted"):
        make().score(digits[1])
    with pytest.raises(BaselineFitError, match="32x32 or 64x64"):
        make().fit(np.zeros((4, 28, 28, 1), np.uint8))


@pytest.mark.parametrize("field,value", [("n_seeds", 0), ("steps", 0), ("critic_steps", 0), ("search_steps", -1),
                                         ("gradient_penalty", -1.0)])
def test_bad_settings_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        ADGAN(replace(ADGAN.preset_config("tiny"), **{field: value}))


def test_presets_keep_the_papers_search_and_cap() -> None:
    paper = ADGAN.preset_config("paper")
    assert (paper.steps, paper.batch_size, paper.critic_steps, paper.gradient_penalty) == (10_000, 128, 2, 20.0)
    assert (paper.n_seeds, paper.search_steps, paper.z_lr, paper.generator_lr) == (8, 5, 0.25, 5e-5)
    assert (paper.latent_dim, paper.max_test_images) == (256, 5000)
    assert ADGAN.preset_config("quick").search_steps == paper.search_steps
