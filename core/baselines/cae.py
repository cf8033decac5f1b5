"""The convolutional autoencoder behind CAE-OC-SVM: DCGAN-like, as the paper describes.

The encoder is adapted from DCGAN's discriminator and the decoder from its generator (the paper,
Section 5.1). The shape follows the authors' Keras model (models/encoders_decoders.py):

- encoder: three 3x3 stride-2 convolutions with 64, 128, 256 filters (a fourth with 512 at 64x64),
  each followed by BatchNorm and ReLU; flatten; a dense layer to a 256-d code with tanh.
- decoder: dense to 256 x 4 x 4, BatchNorm, ReLU; 3x3 stride-2 transposed convolutions with 128
  and 64 filters (another 64 at 64x64), BatchNorm, ReLU; a last one to the image channels with tanh
  (pixels are in [-1, 1]).
- training: Adam (lr 1e-3), mean squared error, batch 128, 200 epochs in the paper.

DSEBM and DAGMM (:mod:`core.baselines.dsebm`, :mod:`core.baselines.dagmm`) reuse this encoder, and
DAGMM the decoder, with another activation on the code, as the paper says they did
(:func:`conv_encoder`).

BatchNorm uses Keras' defaults (momentum 0.99 in Keras terms = 0.01 in PyTorch's, eps 1e-3) so the
running statistics behave as in the authors' model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.baselines.common import BaselineConfig, BaselineFitError
from core.baselines.training import map_batches, train_epochs

_BN = {"momentum": 0.01, "eps": 1e-3}


@dataclass(frozen=True)
class CAEConfig(BaselineConfig):
    code_dim: int = 256  # bottleneck size (the authors' representation_dim)
    epochs: int = 200  # passes over the normal training images (the paper: 200)
    batch_size: int = 128
    lr: float = 1e-3


def _down(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.BatchNorm2d(cout, **_BN), nn.ReLU(inplace=True)]


def _up(cin: int, cout: int) -> list[nn.Module]:
    return [nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1), nn.BatchNorm2d(cout, **_BN),
            nn.ReLU(inplace=True)]


SIDES = (32, 64)  # the image sides the network is built for
_SIDES_TEXT = " or ".join(f"{s}x{s}" for s in SIDES)


def _check_size(image_size: int) -> None:
    if image_size not in SIDES:
        raise ValueError(f"the DCGAN-like autoencoder takes {_SIDES_TEXT} images, got {image_size}x{image_size}")


def image_side(x: torch.Tensor) -> int:
    """The side of the square (N, C, S, S) images ``x``, refused (BaselineFitError) unless S is 32 or 64."""
    h, w = x.shape[-2:]
    if h != w or h not in SIDES:
        raise BaselineFitError(f"the DCGAN-like networks take {_SIDES_TEXT} images, got {h}x{w}")
    return int(h)


def conv_encoder(image_size: int, channels: int, code_dim: int, activation: nn.Module) -> nn.Sequential:
    """The encoder (image -> code): three stride-2 convolutions (four at 64x64), a dense layer to the code.

    ``activation`` is the code layer's, which the paper's three users of this network set apart:
    tanh for CAE-OC-SVM, ReLU for DSEBM's energy, none (``nn.Identity``) for DAGMM's compression.
    """
    _check_size(image_size)
    nf = 64
    enc = _down(channels, nf) + _down(nf, 2 * nf) + _down(2 * nf, 4 * nf)
    last = 4 * nf
    if image_size == 64:
        enc += _down(4 * nf, 8 * nf)
        last = 8 * nf
    return nn.Sequential(*enc, nn.Flatten(), nn.Linear(last * 4 * 4, code_dim), activation)


def conv_decoder(image_size: int, channels: int, code_dim: int) -> nn.Sequential:
    """The decoder (code -> image in [-1, 1]), DCGAN's generator shape."""
    _check_size(image_size)
    nf = 64
    dec: list[nn.Module] = [nn.Linear(code_dim, 4 * nf * 4 * 4), nn.BatchNorm1d(4 * nf * 4 * 4, **_BN),
                            nn.ReLU(inplace=True), nn.Unflatten(1, (4 * nf, 4, 4))]
    dec += _up(4 * nf, 2 * nf) + _up(2 * nf, nf)
    if image_size == 64:
        dec += _up(nf, nf)
    dec += [nn.ConvTranspose2d(nf, channels, 3, stride=2, padding=1, output_padding=1), nn.Tanh()]
    return nn.Sequential(*dec)


class ConvAutoencoder(nn.Module):
    """Encoder (image -> tanh code) and decoder (code -> image in [-1, 1]) for 32x32 or 64x64 inputs."""

    def __init__(self, image_size: int = 32, channels: int = 3, code_dim: int = 256) -> None:
        super().__init__()
        self.encoder = conv_encoder(image_size, channels, code_dim, nn.Tanh())
        self.decoder = conv_decoder(image_size, channels, code_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


# The last few trained autoencoders, keyed by their training data and settings: the hindsight and
# fair CAE-OC-SVM runs of one class (run one after the other by reproduce) share one autoencoder
# instead of training the same network twice. A few MB each.
_MEMO_SIZE = 4
_LAST: dict[tuple, tuple[dict[str, torch.Tensor], list[float]]] = {}


def _memo_key(x: torch.Tensor, config: CAEConfig, device: torch.device) -> tuple:
    digest = hashlib.sha1(x.detach().cpu().contiguous().numpy().tobytes()).hexdigest()
    return (digest, tuple(x.shape), config.code_dim, config.epochs, config.batch_size, config.lr, config.seed,
            str(device))


def train_autoencoder(x: torch.Tensor, config: CAEConfig, device: torch.device,
                      progress: Callable[[float, str], None] | None = None) -> tuple[ConvAutoencoder, list[float]]:
    """Train on normal images (N, C, H, W) in [-1, 1]; returns the model (eval mode) and per-epoch MSE.

    Training is seeded, so a repeat call with the same data and settings returns a copy of the
    recent result at once instead of training again.
    """
    key = _memo_key(x, config, device)
    if key in _LAST:
        weights, losses = _LAST[key]
        model = ConvAutoencoder(x.shape[-1], x.shape[1], config.code_dim)
        model.load_state_dict(weights)
        if progress is not None:
            progress(1.0, "autoencoder: reusing the one just trained on the same images and settings")
        return model.to(device).eval(), list(losses)
    model, losses = _train(x, config, device, progress)
    while len(_LAST) >= _MEMO_SIZE:
        _LAST.pop(next(iter(_LAST)))
    _LAST[key] = ({k: v.detach().cpu().clone() for k, v in model.state_dict().items()}, list(losses))
    return model, losses


def _train(x: torch.Tensor, config: CAEConfig, device: torch.device,
           progress: Callable[[float, str], None] | None) -> tuple[ConvAutoencoder, list[float]]:
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    model = ConvAutoencoder(x.shape[-1], x.shape[1], config.code_dim).to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    losses = train_epochs(x, lambda batch: torch.mean((model(batch) - batch) ** 2), opt, config.epochs,
                          config.batch_size, gen, device, progress or (lambda _f, _t: None), "autoencoder")
    return model.eval(), losses


def encode(model: ConvAutoencoder, x: torch.Tensor, device: torch.device, batch: int = 512) -> np.ndarray:
    """(N, code_dim) float32 bottleneck codes."""
    model.eval()
    return map_batches(model.encoder, x, device, batch).float().numpy()
