"""DSEBM, a deep structured energy-based model (Zhai et al., ICML 2016), as the paper ran it: its DSEBM column.

**Energy.** Zhai et al. model the normal images' density as exp(-E(x)) with
``E(x) = 0.5 ||x - b'||^2 - sum_j g(W_j h(x) + b_j)``: a Gaussian prior around a learnt image b'
minus what a deep network h, a last dense layer (W, b) and the softplus g say about x. Their
networks were shallow; Golan & El-Yaniv (Section 5.1) took "the encoder part in the convolutional
autoencoder used by CAE-OC-SVM, with ReLU activations in the encoding layer", and the authors'
code does exactly that: h is the CAE's convolutional stack (:func:`core.baselines.cae.conv_encoder`),
(W, b) its dense layer to a 256-d code, and g = ReLU where Zhai et al. had softplus. b' holds one
value per pixel and channel, starting at 0.

**Training: denoising score matching** (Zhai et al. Section 4, after Vincent 2011). A noisy copy
x~ = x + N(0, sigma^2) is pulled back towards x by one step down the energy,
``xi(x~) = x~ - dE/dx~``, and the loss is the mean squared error between xi(x~) and x: learning to
denoise that way fits dE/dx to the data's score without ever sampling the model. sigma = 0.5 on
[-1, 1] pixels (the authors' ``GaussianNoise(0.5)``); Adam (lr 1e-3), batch 128, 200 epochs, as for
every benchmark model of the paper. The gradient is taken with ``create_graph=True``, so the step
trains through it (a second-order backward pass: a DSEBM step costs about three CAE steps).
BatchNorm trains on batch statistics (the authors' Keras model did too, gradient included); at
scoring the running statistics make each image's energy its own.

**Score: the energy.** Zhai et al. offer two criteria, the energy E(x) and the reconstruction
error ||x - xi(x)||. We use the energy because that is the paper's choice ("samples associated with
high energy are considered anomalous") and what the authors' code scored, so our column compares
with theirs: anomaly score E(x), normality score -E(x), on the clean image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from core.baselines.cae import CAEConfig, conv_encoder, image_side
from core.baselines.common import Baseline, BaselineConfig, ProgressFn
from core.baselines.training import cpu_state, map_batches, train_epochs


@dataclass(frozen=True)
class DSEBMConfig(CAEConfig):
    noise_std: float = 0.5  # sigma of the Gaussian noise the model learns to remove (the authors' 0.5)


class EnergyNet(nn.Module):
    """E(x) = 0.5 ||x - b'||^2 - sum ReLU(W h(x) + b), with h the CAE's convolutional encoder."""

    def __init__(self, image_size: int, channels: int, code_dim: int) -> None:
        super().__init__()
        self.encoder = conv_encoder(image_size, channels, code_dim, nn.ReLU())
        self.prior = nn.Parameter(torch.zeros(channels, image_size, image_size))  # b'

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N,) energies of images (N, C, H, W)."""
        return 0.5 * (x - self.prior).square().flatten(1).sum(1) - self.encoder(x).sum(1)

    def denoise(self, x_noisy: torch.Tensor) -> torch.Tensor:
        """xi(x~) = x~ - dE/dx~, differentiable in the weights (the score matching reconstruction)."""
        x_noisy = x_noisy.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(self(x_noisy).sum(), x_noisy, create_graph=True)
        return x_noisy - grad


class DSEBM(Baseline):
    method, paper_method, title = "dsebm", "dsebm", "DSEBM"
    config_cls = DSEBMConfig
    presets = {
        "paper": {},  # the paper's 200 epochs of Adam, batch 128
        # CPU-sized: 470 steps of 128 on a 6,000-image class, as many as CAE-OC-SVM's quick autoencoder
        # (1/20 of the paper's); minutes per Fashion-MNIST class (README, "Presets")
        "quick": {"epochs": 10},
        "tiny": {"epochs": 2, "max_train_images": 300, "max_test_images": 600},
    }

    def __init__(self, config: BaselineConfig | None = None, device: str | torch.device = "auto") -> None:
        super().__init__(config, device)
        cfg: DSEBMConfig = self.config  # type: ignore[assignment]
        if not cfg.noise_std > 0:
            raise ValueError(f"noise_std must be positive, got {cfg.noise_std}")
        self.net: EnergyNet | None = None

    def _fit(self, x: torch.Tensor, select: Any, progress: ProgressFn) -> None:
        cfg: DSEBMConfig = self.config  # type: ignore[assignment]
        side = image_side(x)
        torch.manual_seed(cfg.seed)
        gen = torch.Generator().manual_seed(cfg.seed)  # shuffles and noise: the same draws on any device
        net = EnergyNet(side, x.shape[1], cfg.code_dim).to(self.device).train()
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)

        def loss_of(batch: torch.Tensor) -> torch.Tensor:
            noise = cfg.noise_std * torch.randn(batch.shape, generator=gen)
            return torch.mean((net.denoise(batch + noise.to(self.device)) - batch) ** 2)

        losses = train_epochs(x, loss_of, opt, cfg.epochs, cfg.batch_size, gen, self.device, progress, "DSEBM")
        self.net = net.eval()
        self.fit_info["epoch_loss"] = [round(v, 6) for v in losses]

    def energy(self, x: torch.Tensor) -> np.ndarray:
        """(N,) float64 energies of checked model input: the anomaly score."""
        assert self.net is not None
        return map_batches(self.net.eval(), x, self.device).double().numpy()

    def _score(self, x: torch.Tensor) -> np.ndarray:
        return -self.energy(x)

    def _state(self) -> dict[str, Any]:
        assert self.net is not None
        return {"net": cpu_state(self.net)}

    def _load_state(self, state: dict[str, Any]) -> None:
        assert self.input_shape is not None
        c, h, _ = self.input_shape
        net = EnergyNet(h, c, self.config.code_dim)  # type: ignore[attr-defined]
        net.load_state_dict(state["net"])
        self.net = net.to(self.device).eval()
