"""One-Class Deep SVDD (Ruff et al., ICML 2018): the paper's E2E-OC-SVM column.

The published recipe, in brief:

- A LeNet-type CNN with **no bias terms** anywhere and BatchNorm without affine parameters (a bias
  or a learnable shift would let the network map everything onto the centre: the trivial
  "hypersphere collapse"). 5x5 convolutions, leaky ReLU, 2x2 max pooling, a bias-free linear layer
  to the representation. Grey images (MNIST, Fashion-MNIST): 8 and 4 filters, a 32-d representation;
  colour images (CIFAR-10): 32, 64, 128 filters, a 128-d representation.
- The centre c is the mean representation of the normal training images after an initial forward
  pass (after the optional autoencoder pretraining), with coordinates closer to 0 than eps = 0.1
  pushed to +-eps (a zero coordinate is easy to hit with zero weights).
- One-class objective: mean ||phi(x) - c||^2 plus weight decay (Adam's L2, 5e-7); Adam lr 1e-4,
  divided by 10 at epoch 50 of 150, batch 200. Soft-boundary variant (``objective='soft-boundary'``):
  R^2 + (1/nu) mean(max(0, ||phi(x) - c||^2 - R^2)), with R set every epoch after a warm-up of 10 to
  the (1 - nu) quantile of the distances.
- Optional pretraining (the paper's default): a bias-free convolutional autoencoder whose encoder
  is the network above, trained on reconstruction; its encoder weights initialise Deep SVDD.

Normality score (higher = more normal): -||phi(x) - c||^2 (one-class) or R^2 - ||phi(x) - c||^2
(soft-boundary). Ruff et al. preprocess with global contrast normalisation and min-max scaling; we
feed the same [-1, 1] pixels as every other method here, so all columns see identical inputs.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.baselines.common import Baseline, BaselineConfig, BaselineFitError, ProgressFn
from core.baselines.training import cpu_state, map_batches, minibatches, train_epochs

_BN = {"eps": 1e-4, "affine": False}


@dataclass(frozen=True)
class DeepSVDDConfig(BaselineConfig):
    objective: str = "one-class"  # or "soft-boundary"
    nu: float = 0.1  # soft-boundary: the fraction of training images allowed outside the sphere
    epochs: int = 150
    lr: float = 1e-4
    lr_milestone: int = 50  # epoch after which lr is divided by 10 (0 = never)
    batch_size: int = 200
    weight_decay: float = 5e-7
    warm_up_epochs: int = 10  # soft-boundary: epochs before R is first updated
    pretrain_epochs: int = 150  # autoencoder pretraining (0 = start from random weights)
    pretrain_lr: float = 1e-4
    pretrain_weight_decay: float = 5e-7
    eps: float = 0.1  # centre coordinates with |c_j| < eps are moved to +-eps


def _arch(channels: int) -> tuple[tuple[int, ...], int]:
    """(conv filters, representation size): Ruff et al.'s MNIST LeNet for grey, CIFAR-10 LeNet for colour."""
    return ((8, 4), 32) if channels == 1 else ((32, 64, 128), 128)


class SVDDNet(nn.Module):
    """Bias-free LeNet-type encoder: [conv5x5 - BN(no affine) - leaky ReLU - maxpool2] x L, linear."""

    def __init__(self, channels: int, image_size: int) -> None:
        super().__init__()
        filters, self.rep_dim = _arch(channels)
        side = image_size // 2 ** len(filters)
        if side < 1 or image_size % 2 ** len(filters):
            raise ValueError(f"Deep SVDD's LeNet needs a side divisible by {2 ** len(filters)}, got {image_size}")
        layers: list[nn.Module] = []
        cin = channels
        for f in filters:
            layers += [nn.Conv2d(cin, f, 5, padding=2, bias=False), nn.BatchNorm2d(f, **_BN), nn.LeakyReLU(0.01),
                       nn.MaxPool2d(2)]
            cin = f
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.fc = nn.Linear(cin * side * side, self.rep_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


class SVDDDecoder(nn.Module):
    """Bias-free decoder for pretraining.

    code -> (rep/16, 4, 4) -> [upsample x2, conv5x5, BN, leaky ReLU]... -> tanh.
    """

    def __init__(self, channels: int, image_size: int) -> None:
        super().__init__()
        filters, rep_dim = _arch(channels)
        self.start = rep_dim // 16
        ups = int(round(math.log2(image_size / 4)))
        widths = list(reversed(filters))
        widths = (widths + [widths[-1]] * ups)[:ups]
        layers: list[nn.Module] = []
        cin = self.start
        for w in widths:
            layers += [nn.Upsample(scale_factor=2), nn.ConvTranspose2d(cin, w, 5, padding=2, bias=False),
                       nn.BatchNorm2d(w, **_BN), nn.LeakyReLU(0.01)]
            cin = w
        layers += [nn.ConvTranspose2d(cin, channels, 5, padding=2, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(F.leaky_relu(z.view(len(z), self.start, 4, 4), 0.01))


def _scheduler(opt: torch.optim.Optimizer, milestone: int) -> torch.optim.lr_scheduler.LRScheduler:
    return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[milestone] if milestone > 0 else [], gamma=0.1)


class DeepSVDD(Baseline):
    method, paper_method, title = "deep-svdd", "deep-svdd", "Deep SVDD (E2E)"
    config_cls = DeepSVDDConfig
    presets = {
        "paper": {},  # Ruff et al.: 150 pretraining + 150 training epochs
        "quick": {"epochs": 25, "lr_milestone": 20, "pretrain_epochs": 5},  # CPU-sized
        "tiny": {"epochs": 3, "lr_milestone": 0, "pretrain_epochs": 1, "max_train_images": 300, "max_test_images": 600},
    }

    def __init__(self, config: BaselineConfig | None = None, device: str | torch.device = "auto") -> None:
        super().__init__(config, device)
        cfg: DeepSVDDConfig = self.config  # type: ignore[assignment]
        if cfg.objective not in ("one-class", "soft-boundary"):
            raise ValueError(f"unknown Deep SVDD objective {cfg.objective!r}; choose one-class or soft-boundary")
        if not 0 < cfg.nu <= 1:
            raise ValueError(f"nu must be in (0, 1], got {cfg.nu}")
        self.net: SVDDNet | None = None
        self.c: torch.Tensor | None = None
        self.R = 0.0

    def _fit(self, x: torch.Tensor, select: Any, progress: ProgressFn) -> None:
        cfg: DeepSVDDConfig = self.config  # type: ignore[assignment]
        _, c, h, w = x.shape
        if h != w:
            raise BaselineFitError(f"Deep SVDD takes square images, got {h}x{w}")
        torch.manual_seed(cfg.seed)
        gen = torch.Generator().manual_seed(cfg.seed)
        net = SVDDNet(c, h).to(self.device)
        total = cfg.pretrain_epochs + cfg.epochs
        start = time.perf_counter()
        if cfg.pretrain_epochs:
            dec = SVDDDecoder(c, h).to(self.device)
            net.train(), dec.train()
            params = list(net.parameters()) + list(dec.parameters())
            opt = torch.optim.Adam(params, lr=cfg.pretrain_lr, weight_decay=cfg.pretrain_weight_decay)
            train_epochs(x, lambda batch: torch.mean((dec(net(batch)) - batch) ** 2), opt, cfg.pretrain_epochs,
                         cfg.batch_size, gen, self.device,
                         lambda f, text: progress(f * cfg.pretrain_epochs / total, text), "pretraining")
        self.c = self._centre(net, x)
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        sched = _scheduler(opt, cfg.lr_milestone)
        R = torch.tensor(0.0, device=self.device)
        losses = []
        for epoch in range(cfg.epochs):
            net.train()
            run_loss, dists = 0.0, []
            for idx in minibatches(len(x), cfg.batch_size, gen):
                dist = torch.sum((net(x[idx].to(self.device)) - self.c) ** 2, dim=1)
                if cfg.objective == "soft-boundary":
                    loss = R ** 2 + torch.mean(torch.clamp(dist - R ** 2, min=0)) / cfg.nu
                else:
                    loss = torch.mean(dist)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                run_loss += float(loss.detach()) * len(idx)
                dists.append(dist.detach())
            sched.step()
            if cfg.objective == "soft-boundary" and epoch >= cfg.warm_up_epochs:
                R = torch.quantile(torch.sqrt(torch.cat(dists)), 1 - cfg.nu)
            losses.append(run_loss / len(x))
            progress((cfg.pretrain_epochs + epoch + 1) / total,
                     f"Deep SVDD epoch {epoch + 1}/{cfg.epochs} loss {losses[-1]:.4g} "
                     f"{time.perf_counter() - start:.0f}s")
        self.net = net.eval()
        self.R = float(R)
        self.fit_info.update({"epoch_loss": [round(v, 6) for v in losses], "R": self.R, "rep_dim": net.rep_dim})

    @torch.inference_mode()
    def _centre(self, net: SVDDNet, x: torch.Tensor) -> torch.Tensor:
        """Mean representation after an initial forward pass, small coordinates pushed to +-eps."""
        eps = self.config.eps  # type: ignore[attr-defined]
        net.eval()
        c = map_batches(net, x, self.device).mean(0).to(self.device)
        c[(c.abs() < eps) & (c < 0)] = -eps
        c[(c.abs() < eps) & (c >= 0)] = eps
        return c

    @torch.inference_mode()
    def distances(self, x: torch.Tensor) -> np.ndarray:
        assert self.net is not None and self.c is not None
        net, c = self.net.eval(), self.c
        return map_batches(lambda batch: torch.sum((net(batch) - c) ** 2, dim=1), x, self.device).double().numpy()

    def _score(self, x: torch.Tensor) -> np.ndarray:
        return self.R ** 2 - self.distances(x)

    def _state(self) -> dict[str, Any]:
        assert self.net is not None and self.c is not None
        return {"net": cpu_state(self.net),
                "c": self.c.detach().cpu(), "R": self.R}

    def _load_state(self, state: dict[str, Any]) -> None:
        assert self.input_shape is not None
        c, h, _ = self.input_shape
        net = SVDDNet(c, h)
        net.load_state_dict(state["net"])
        self.net = net.to(self.device).eval()
        self.c = state["c"].to(self.device)
        self.R = float(state["R"])
