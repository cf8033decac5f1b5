"""ADGAN, anomaly detection with a generative adversarial network (Deecke et al., ECML-PKDD 2018).

A GAN learns the normal class; an image is normal when the generator can reproduce it. To score
an image x, ADGAN searches the generator's latent space: from each of several random starting
points z0 it takes a fixed number of gradient steps on the reconstruction loss ``||G(z) - x||^2``
that move z *and* a copy of the generator's parameters theta, and the anomaly score is the final
loss averaged over the starting points. Golan & El-Yaniv (Section 5.1) ran it with "the original
DCGAN architecture", once per class (no SEM in their table). The settings below are the authors'
code's (``experiments.py``, ``_adgan_experiment``; ``models/adgan.py``), which produced the paper's
ADGAN column; the stored copies of Deecke et al.'s paper that we could search held its
introduction only, not its experimental settings, so none of theirs is quoted here.

- **Networks**: the CAE's DCGAN-like pair (:mod:`core.baselines.cae`). Generator: the decoder
  from a 256-d standard normal latent vector (the authors' ``noise_size``) to a [-1, 1] image.
  Critic: the encoder with a single linear output, BatchNorm included as the authors had it.
- **Training**: WGAN-GP (Gulrajani et al. 2017), as the authors' code trains it: per generator
  update, two critic updates on a batch of real images, one of generated images and one of random
  mixes of the two, loss ``mean D(fake) - mean D(real) + 20 mean (||grad D(mix)|| - 1)^2``
  (their ``grad_pen_coef=20``); then the generator minimises ``-mean D(G(z))``. Adam (lr 1e-4,
  betas 0 and 0.9) for both, batches of 128, 10,000 generator updates (their 100 "epochs" of 100
  batches, whatever the class's size; Golan & El-Yaniv: 100 epochs "produced superior results"
  than the 200 of the other models). The critic's generated batch comes from the generator in
  inference mode, as Keras' ``predict`` made it there. Real batches come from seeded epochs over
  the normal images (:func:`core.baselines.training.minibatches`), where the authors drew each
  batch at random. The critic is discarded after training.
- **Search** (the anomaly score): 8 starting points, 5 steps; Adam with betas 0.5 and 0.999,
  lr 0.25 for z and 5e-5 for the generator copy (the authors' ``n_seeds=8, k=5, z_lr=0.25,
  gen_lr=5e-5``). The loss is the mean squared error per pixel (their ``K.mean``; a constant
  factor away from the summed norm, so the ranking is the same). Each step takes one gradient
  of that loss and moves z and the copy together; the authors' code alternates a z step and a
  generator step, each on its own forward pass (twice the cost for the same 5 steps). The
  generator stays in inference mode throughout: BatchNorm uses its running statistics. (The
  authors' generator step ran in training mode on a batch of one image, where the BatchNorm after
  the dense layer outputs its bias whatever z is; and batch statistics would make one image's
  score depend on the others in its batch.)
- **Budget**: a search costs 8 x (5 forward-and-backward passes + 1 forward pass) of the
  generator per image, and a fresh Adam state over all 1.4 million generator parameters per
  start; that, not the GAN's training, is what makes ADGAN the slowest method here to score, and
  why the authors scored at most 5,000 test images per class (a random sample; ours is the
  stratified sample GEOM would score, :func:`core.experiment.test_subset`).

**Batching, and why it changes no score.** Every image gets the same 8 starting points, drawn once
from the config's seed, so an image's score depends on that image alone: not on which images
share its batch, nor on the order of calls (the authors drew fresh starts per image). The search
runs images in batches (:data:`SEARCH_COPIES` generator copies at a time); each (image, start)
pair has its own copy of every generator parameter (:class:`GeneratorCopies`), reset to the
trained weights for every batch, and its own Adam state. A copy's loss depends on its own
parameters and latent vector only, so the gradient of the batch's summed loss is each copy's own
gradient and the batch runs as that many independent searches. Copies are stacked along a first
axis and each layer is a batched matrix product, which keeps them apart (grouped convolutions,
which ``torch.func.vmap`` would use, ran far slower on a CPU).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.baselines.cae import conv_decoder, conv_encoder, image_side
from core.baselines.common import Baseline, BaselineConfig, ProgressFn
from core.baselines.training import cpu_state, loss_value, minibatches

# Generator copies searched at once when scoring, about 25 MB each (weights, gradient, Adam state).
# Larger batches were no faster on a CPU, only bigger; the scores do not depend on it.
SEARCH_COPIES = 16
_REPORTS = 100  # progress messages (and Wasserstein estimates in fit_info) over a training


@dataclass(frozen=True)
class ADGANConfig(BaselineConfig):
    latent_dim: int = 256  # the generator's standard normal input (the authors' noise_size)
    steps: int = 10_000  # generator updates (the authors' 100 epochs x 100 batches)
    batch_size: int = 128
    critic_steps: int = 2  # critic updates per generator update
    lr: float = 1e-4  # Adam, both networks
    betas: tuple[float, float] = (0.0, 0.9)
    gradient_penalty: float = 20.0  # weight of WGAN-GP's (||grad D|| - 1)^2 term
    n_seeds: int = 8  # starting points of the latent search, the same for every image
    search_steps: int = 5  # Adam steps per starting point
    z_lr: float = 0.25
    generator_lr: float = 5e-5  # the generator copy's learning rate during the search
    search_betas: tuple[float, float] = (0.5, 0.999)


def _real_batches(n: int, batch_size: int, gen: torch.Generator) -> Iterator[torch.Tensor]:
    """Index batches from successive seeded epochs, for as many updates as the training takes."""
    while True:
        yield from minibatches(n, batch_size, gen)


def critic_loss(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, mix_weights: torch.Tensor,
                penalty: float) -> tuple[torch.Tensor, torch.Tensor]:
    """WGAN-GP's critic loss and the Wasserstein estimate ``mean D(real) - mean D(fake)`` it maximises.

    The gradient penalty is taken at ``w real + (1 - w) fake`` per image (``mix_weights``: (N, 1, 1, 1)
    in [0, 1]), two-sided as in the authors' code; ``create_graph`` lets the critic train through it.
    """
    mix = (mix_weights * real + (1 - mix_weights) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mix).sum(), mix, create_graph=True)
    gradient_penalty = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
    distance = critic(real).mean() - critic(fake).mean()
    return penalty * gradient_penalty - distance, distance.detach()


class GeneratorCopies:
    """``copies`` independent copies of a generator in inference mode, each with its own parameters.

    Copy i maps latent vector i to image i. The parameters are stacked along a first axis, in the
    layout a batched matrix product takes (a linear layer's weight transposed, a transposed
    convolution's as (out channels x kernel, in channels)), so no gradient needs a copy to fit its
    parameter. Handles what :func:`core.baselines.cae.conv_decoder` is made of: linear layers,
    BatchNorm (its running statistics, shared), transposed convolutions, and layers without
    parameters, which run as they are.
    """

    def __init__(self, generator: nn.Sequential, copies: int) -> None:
        self.layers = list(generator)
        self.params: list[dict[str, torch.Tensor]] = []
        for layer in self.layers:
            own = {name: _stacked_layout(layer, name, value.detach()) for name, value in layer.named_parameters()}
            self.params.append({name: v.unsqueeze(0).repeat(copies, *[1] * v.dim()).requires_grad_(True)
                                for name, v in own.items()})

    def parameters(self) -> list[torch.Tensor]:
        return [p for layer in self.params for p in layer.values()]

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        h = z
        for layer, p in zip(self.layers, self.params, strict=True):
            if isinstance(layer, nn.Linear):
                h = torch.baddbmm(p["bias"].unsqueeze(1), h.unsqueeze(1), p["weight"]).squeeze(1)
            elif isinstance(layer, nn.modules.batchnorm._BatchNorm):
                h = _batch_norm(layer, h, p["weight"], p["bias"])
            elif isinstance(layer, nn.ConvTranspose2d):
                h = _conv_transpose(layer, h, p["weight"], p["bias"])
            else:
                h = layer(h)
        return h


def _stacked_layout(layer: nn.Module, name: str, value: torch.Tensor) -> torch.Tensor:
    """One copy's parameter in the layout :class:`GeneratorCopies` multiplies by."""
    if isinstance(layer, nn.ConvTranspose2d) and (layer.groups != 1 or layer.dilation != (1, 1)):
        raise TypeError("the latent search copies plain transposed convolutions only (no groups, no dilation)")
    if name == "weight" and isinstance(layer, nn.Linear):
        return value.t().contiguous()  # (in, out)
    if name == "weight" and isinstance(layer, nn.ConvTranspose2d):
        return value.flatten(1).t().contiguous()  # (out channels x kernel, in channels)
    if isinstance(layer, nn.Linear | nn.ConvTranspose2d | nn.modules.batchnorm._BatchNorm):
        return value
    raise TypeError(f"the latent search cannot copy a {type(layer).__name__} layer")


def _batch_norm(layer: nn.modules.batchnorm._BatchNorm, h: torch.Tensor, weight: torch.Tensor,
                bias: torch.Tensor) -> torch.Tensor:
    """BatchNorm in inference mode (running statistics) with each copy's own scale and shift."""
    spatial = (1,) * (h.dim() - 2)
    assert layer.running_mean is not None and layer.running_var is not None
    scale = weight * torch.rsqrt(layer.running_var + layer.eps)
    return (h - layer.running_mean.view(1, -1, *spatial)) * scale.view(*scale.shape, *spatial) \
        + bias.view(*bias.shape, *spatial)


def _conv_transpose(layer: nn.ConvTranspose2d, h: torch.Tensor, weight: torch.Tensor,
                    bias: torch.Tensor) -> torch.Tensor:
    """A transposed convolution per copy: each input pixel times the copy's kernel, summed into place
    (``F.fold``), which is what ``conv_transpose2d`` computes."""
    n, _, height, width = h.shape
    (sh, sw), (ph, pw), (kh, kw), (oh, ow) = layer.stride, layer.padding, layer.kernel_size, layer.output_padding
    size = ((height - 1) * sh - 2 * ph + kh + oh, (width - 1) * sw - 2 * pw + kw + ow)
    cols = torch.bmm(weight, h.flatten(2))  # (copies, out channels x kernel, input pixels)
    return F.fold(cols, size, (kh, kw), stride=(sh, sw), padding=(ph, pw)) + bias.view(n, -1, 1, 1)


def _reconstruction_loss(x_rec: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(N,) mean squared error per pixel."""
    return ((x_rec - x) ** 2).flatten(1).mean(1)


def search_losses(generator: nn.Sequential, x: torch.Tensor, starts: torch.Tensor,
                  cfg: ADGANConfig) -> torch.Tensor:
    """(N,) ADGAN's anomaly score of images ``x``: the reconstruction loss after the latent search,
    averaged over the ``starts`` (k, latent_dim). Copy ``i * k + j`` searches image i from start j."""
    n, k = len(x), len(starts)
    copies = GeneratorCopies(generator.eval(), n * k)
    z = starts.repeat(n, 1).requires_grad_(True)
    target = x.repeat_interleave(k, dim=0)
    opt_z = torch.optim.Adam([z], lr=cfg.z_lr, betas=cfg.search_betas, fused=True)
    opt_g = torch.optim.Adam(copies.parameters(), lr=cfg.generator_lr, betas=cfg.search_betas, fused=True)
    with torch.enable_grad():  # the search is gradient descent, even for a caller that turned gradients off
        for _ in range(cfg.search_steps):
            loss = _reconstruction_loss(copies(z), target).sum()  # each copy's gradient is its own loss's
            opt_z.zero_grad(set_to_none=True)
            opt_g.zero_grad(set_to_none=True)
            loss.backward()
            opt_z.step()
            opt_g.step()
    with torch.no_grad():
        return _reconstruction_loss(copies(z), target).view(n, k).mean(1)


class ADGAN(Baseline):
    method, paper_method, title = "adgan", "adgan", "ADGAN"
    config_cls = ADGANConfig
    run_once = True  # the paper ran ADGAN once per class, for its cost
    presets = {
        # the authors' 10,000 generator updates of 128 and 8 x 5 search, and their cap of 5,000 test images
        "paper": {"max_test_images": 5000},
        # CPU-sized: 200 generator updates of 64 (1/100 of the paper's images through the GAN), half the
        # starting points, a stratified 1,000 test images; minutes per class (README, "Baselines")
        "quick": {"steps": 200, "batch_size": 64, "n_seeds": 4, "max_test_images": 1000},
        # tests: a GAN needs some updates to learn anything (20 of 32 left MNIST 0 vs 1 at 0.75)
        "tiny": {"steps": 60, "batch_size": 16, "n_seeds": 1, "search_steps": 2, "max_train_images": 300,
                 "max_test_images": 600},
    }

    def __init__(self, config: BaselineConfig | None = None, device: str | torch.device = "auto") -> None:
        super().__init__(config, device)
        cfg: ADGANConfig = self.config  # type: ignore[assignment]
        for name in ("steps", "critic_steps", "n_seeds"):
            if getattr(cfg, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(cfg, name)}")
        if cfg.search_steps < 0:
            raise ValueError(f"search_steps must be 0 or more, got {cfg.search_steps}")
        if cfg.gradient_penalty < 0:
            raise ValueError(f"gradient_penalty must be 0 or more, got {cfg.gradient_penalty}")
        self.generator: nn.Sequential | None = None

    def _fit(self, x: torch.Tensor, select: Any, progress: ProgressFn) -> None:
        cfg: ADGANConfig = self.config  # type: ignore[assignment]
        side = image_side(x)
        torch.manual_seed(cfg.seed)  # weights
        gen = torch.Generator().manual_seed(cfg.seed)  # batches, latent vectors, mixes: the same draws on any device
        generator = conv_decoder(side, x.shape[1], cfg.latent_dim).to(self.device).train()
        critic = conv_encoder(side, x.shape[1], 1, nn.Identity()).to(self.device).train()
        opt_g = torch.optim.Adam(generator.parameters(), lr=cfg.lr, betas=cfg.betas)
        opt_c = torch.optim.Adam(critic.parameters(), lr=cfg.lr, betas=cfg.betas)
        real_batches = _real_batches(len(x), cfg.batch_size, gen)
        every = max(1, cfg.steps // _REPORTS)
        estimates: list[float] = []
        total, start = 0.0, time.perf_counter()
        for step in range(cfg.steps):
            for _ in range(cfg.critic_steps):
                total += self._critic_step(generator, critic, opt_c, x[next(real_batches)], gen, step)
            self._generator_step(generator, critic, opt_g, gen, step)
            if (step + 1) % every == 0 or step + 1 == cfg.steps:
                estimates.append(round(total / (cfg.critic_steps * (step % every + 1)), 5))
                total = 0.0
                progress((step + 1) / cfg.steps, f"ADGAN step {step + 1}/{cfg.steps} Wasserstein estimate "
                         f"{estimates[-1]:.4g} {time.perf_counter() - start:.0f}s")
        self.generator = generator.eval()
        self.fit_info["wasserstein_estimate"] = estimates

    def _latent(self, n: int, gen: torch.Generator) -> torch.Tensor:
        return torch.randn(n, self.config.latent_dim, generator=gen).to(self.device)  # type: ignore[attr-defined]

    def _critic_step(self, generator: nn.Module, critic: nn.Module, opt: torch.optim.Optimizer, real: torch.Tensor,
                     gen: torch.Generator, step: int) -> float:
        """One critic update; returns its Wasserstein estimate."""
        cfg: ADGANConfig = self.config  # type: ignore[assignment]
        real = real.to(self.device, non_blocking=True)
        with torch.no_grad():
            fake = generator.eval()(self._latent(len(real), gen))
        generator.train()
        mix_weights = torch.rand(len(real), 1, 1, 1, generator=gen).to(self.device)
        loss, distance = critic_loss(critic, real, fake, mix_weights, cfg.gradient_penalty)
        loss_value(loss, "ADGAN critic", f"generator update {step + 1}/{cfg.steps}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(distance)

    def _generator_step(self, generator: nn.Module, critic: nn.Module, opt: torch.optim.Optimizer,
                        gen: torch.Generator, step: int) -> None:
        cfg: ADGANConfig = self.config  # type: ignore[assignment]
        critic.requires_grad_(False)  # the critic is held fixed (its gradients would go unused)
        loss = -critic(generator(self._latent(cfg.batch_size, gen))).mean()
        loss_value(loss, "ADGAN generator", f"generator update {step + 1}/{cfg.steps}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        critic.requires_grad_(True)

    def starts(self) -> torch.Tensor:
        """(n_seeds, latent_dim): the search's starting points, the same for every image (from the seed)."""
        cfg: ADGANConfig = self.config  # type: ignore[assignment]
        return torch.randn(cfg.n_seeds, cfg.latent_dim, generator=torch.Generator().manual_seed(cfg.seed))

    def reconstruction_loss(self, x: torch.Tensor) -> np.ndarray:
        """(N,) float64 mean final search loss of checked model input: the anomaly score."""
        assert self.generator is not None
        cfg: ADGANConfig = self.config  # type: ignore[assignment]
        starts = self.starts().to(self.device)
        per_batch = max(1, SEARCH_COPIES // cfg.n_seeds)
        losses = [search_losses(self.generator, x[s:s + per_batch].to(self.device), starts, cfg).cpu()
                  for s in range(0, len(x), per_batch)]
        return torch.cat(losses).double().numpy() if losses else np.zeros(0)

    def _score(self, x: torch.Tensor) -> np.ndarray:
        return -self.reconstruction_loss(x)

    def _state(self) -> dict[str, Any]:
        assert self.generator is not None
        return {"generator": cpu_state(self.generator)}

    def _load_state(self, state: dict[str, Any]) -> None:
        assert self.input_shape is not None
        c, h, _ = self.input_shape
        generator = conv_decoder(h, c, self.config.latent_dim)  # type: ignore[attr-defined]
        generator.load_state_dict(state["generator"])
        self.generator = generator.to(self.device).eval()
