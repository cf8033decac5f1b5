"""DAGMM, the deep autoencoding Gaussian mixture model (Zong et al., ICLR 2018), as the paper ran it.

The paper (Section 5.1) used "the convolutional autoencoder from the CAE-OC-SVM experiment, but with
linear activation in the representation layer", and an estimation network "inspired by the one in
the original DAGMM paper". The settings below are the authors' code's, which produced the paper's
DAGMM column; where they differ from Zong et al.'s, both are named.

- **Compression network**: the CAE's encoder and decoder (:mod:`core.baselines.cae`) with a linear
  code of 5 units (the authors' ``representation_dim=5``).
- **Features** z = [z_c, ||x - x'|| / ||x||, cos(x, x')]: the code, then the relative Euclidean
  distance and the cosine similarity between the image and its reconstruction (Zong et al.'s
  Eq. 2-3), 7 numbers per image.
- **Estimation network**: FC(64, tanh), dropout 0.5, FC(10, tanh), dropout 0.5, FC(K, softmax), with
  K = 3 components (the authors'; Zong et al. used FC(10, tanh), dropout 0.5, FC(K, softmax) with
  K = 2 to 4 by dataset). Its softmax gives each image's membership in the K components.
- **Mixture and energy**: per batch, the mixture that the memberships give in closed form, and the
  sample energy E(z) = -log p(z) under it (:mod:`core.baselines.gmm`, float64, Cholesky factors).
  The fitted mixture (K x 7 numbers) lives on the CPU, wherever the network runs.
- **Loss**: mean squared reconstruction error (per pixel, Keras' ``mse``) + lambda_energy x mean
  E(z) + lambda_cov x sum_k,j 1 / Sigma_k,jj, with the authors' lambda_energy = 0.01 and
  lambda_cov = 0.0005 (Zong et al.: 0.1 and 0.005 beside a per-image summed squared error).
  Adam (lr 1e-3), batch 256, 200 epochs.
- **Score**: after training, the mixture is fitted once more on the memberships of all the
  training images with the network in inference mode (dropout off, BatchNorm's running
  statistics), as Zong et al. compute phi, mu and Sigma over the training set for testing (the
  authors' Keras layer kept the last training batch's instead). Anomaly score: the image's sample
  energy under that mixture; normality score: its negation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.baselines.cae import CAEConfig, conv_decoder, conv_encoder, image_side
from core.baselines.common import Baseline, BaselineConfig, ProgressFn
from core.baselines.gmm import GaussianMixture
from core.baselines.training import cpu_state, map_batches, train_epochs

_NORM_FLOOR = 1e-8  # keeps the relative distance and the cosine finite for an all-zero image


@dataclass(frozen=True)
class DAGMMConfig(CAEConfig):
    code_dim: int = 5  # the compression network's linear code (the authors' representation_dim)
    batch_size: int = 256  # the authors' DAGMM batch (their other networks trained on 128)
    n_components: int = 3  # K, the mixture's components
    estimation_hidden: tuple[int, ...] = (64, 10)  # the estimation network's tanh layers, each followed by dropout
    dropout: float = 0.5
    lambda_energy: float = 0.01  # weight of the mean sample energy in the loss
    lambda_cov: float = 0.0005  # weight of the covariance diagonal penalty
    cov_eps: float = 1e-3  # added to every covariance diagonal


class DAGMMNet(nn.Module):
    """Compression network (linear-code CAE) and estimation network; ``forward`` gives (x', z, gamma)."""

    def __init__(self, image_size: int, channels: int, cfg: DAGMMConfig) -> None:
        super().__init__()
        self.encoder = conv_encoder(image_size, channels, cfg.code_dim, nn.Identity())
        self.decoder = conv_decoder(image_size, channels, cfg.code_dim)
        layers: list[nn.Module] = []
        width = cfg.code_dim + 2
        for hidden in cfg.estimation_hidden:
            layers += [nn.Linear(width, hidden), nn.Tanh(), nn.Dropout(cfg.dropout)]
            width = hidden
        self.estimation = nn.Sequential(*layers, nn.Linear(width, cfg.n_components), nn.Softmax(dim=1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        code = self.encoder(x)
        x_rec = self.decoder(code)
        flat, flat_rec = x.flatten(1), x_rec.flatten(1)
        distance = (flat - flat_rec).norm(dim=1) / flat.norm(dim=1).clamp_min(_NORM_FLOOR)
        cosine = F.cosine_similarity(flat, flat_rec, dim=1, eps=_NORM_FLOOR)
        z = torch.cat([code, distance[:, None], cosine[:, None]], dim=1)
        return x_rec, z, self.estimation(z)


class DAGMM(Baseline):
    method, paper_method, title = "dagmm", "dagmm", "DAGMM"
    config_cls = DAGMMConfig
    presets = {
        "paper": {},  # the authors' 200 epochs of Adam, batch 256
        # CPU-sized: 470 steps of 256 on a 6,000-image class, as many steps as CAE-OC-SVM's quick
        # autoencoder (1/10 of the paper's epochs); minutes per Fashion-MNIST class (README, "Presets")
        "quick": {"epochs": 20},
        "tiny": {"epochs": 2, "max_train_images": 300, "max_test_images": 600},
    }

    def __init__(self, config: BaselineConfig | None = None, device: str | torch.device = "auto") -> None:
        super().__init__(config, device)
        cfg: DAGMMConfig = self.config  # type: ignore[assignment]
        if cfg.n_components < 1:
            raise ValueError(f"n_components must be at least 1, got {cfg.n_components}")
        if not 0 <= cfg.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {cfg.dropout}")
        if not cfg.cov_eps > 0:
            raise ValueError(f"cov_eps must be positive (it keeps the covariances invertible), got {cfg.cov_eps}")
        self.net: DAGMMNet | None = None
        self.mixture: GaussianMixture | None = None

    def _fit(self, x: torch.Tensor, select: Any, progress: ProgressFn) -> None:
        cfg: DAGMMConfig = self.config  # type: ignore[assignment]
        side = image_side(x)
        torch.manual_seed(cfg.seed)  # weights and dropout masks
        gen = torch.Generator().manual_seed(cfg.seed)
        net = DAGMMNet(side, x.shape[1], cfg).to(self.device).train()
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)

        def loss_of(batch: torch.Tensor) -> torch.Tensor:
            x_rec, z, gamma = net(batch)
            mixture = GaussianMixture.from_memberships(z, gamma, cfg.cov_eps)
            return (torch.mean((x_rec - batch) ** 2) + cfg.lambda_energy * mixture.energy(z).mean()
                    + cfg.lambda_cov * mixture.diagonal_penalty())

        losses = train_epochs(x, loss_of, opt, cfg.epochs, cfg.batch_size, gen, self.device,
                              lambda f, text: progress(0.95 * f, text), "DAGMM")
        self.net = net.eval()
        z, gamma = self.embed(x)
        self.mixture = GaussianMixture.from_memberships(z, gamma, cfg.cov_eps)
        self.fit_info.update({"epoch_loss": [round(v, 6) for v in losses],
                              "phi": [round(float(p), 5) for p in self.mixture.phi]})
        progress(1.0, f"DAGMM: mixture of {cfg.n_components} fitted on {len(x)} training images")

    def embed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features z (N, D) and memberships gamma (N, K) in inference mode, on the CPU."""
        assert self.net is not None
        net, d = self.net.eval(), self.config.code_dim + 2  # type: ignore[attr-defined]
        both = map_batches(lambda batch: torch.cat(net(batch)[1:], dim=1), x, self.device)
        return both[:, :d], both[:, d:]

    def energy(self, x: torch.Tensor) -> np.ndarray:
        """(N,) float64 sample energies of checked model input under the fitted mixture: the anomaly score."""
        assert self.mixture is not None
        z, _ = self.embed(x)
        return self.mixture.energy(z).numpy()

    def _score(self, x: torch.Tensor) -> np.ndarray:
        return -self.energy(x)

    def _state(self) -> dict[str, Any]:
        assert self.net is not None and self.mixture is not None
        return {"net": cpu_state(self.net), "mixture": self.mixture.state()}

    def _load_state(self, state: dict[str, Any]) -> None:
        assert self.input_shape is not None
        c, h, _ = self.input_shape
        net = DAGMMNet(h, c, self.config)  # type: ignore[arg-type]
        net.load_state_dict(state["net"])
        self.net = net.to(self.device).eval()
        self.mixture = GaussianMixture.from_state(state["mixture"])
