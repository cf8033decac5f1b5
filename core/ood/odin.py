"""The class head's OOD scores: maximum softmax probability (Hendrycks & Gimpel 2017) and ODIN (Liang et
al. 2018), with ODIN's (T, eps) tuned on held-out images only.

ODIN scales the logits by a temperature T and first nudges the input towards a more confident
prediction, x' = x - eps * sign(-grad_x log S_max(x; T)), then scores max softmax(f(x') / T). Its
grid is ODIN's: T in {1, 2, 5, ..., 1000} and 21 values of eps from 0 to 0.004, in units of [0, 1]
pixels as ODIN defines them. Our inputs are pixels scaled to [-1, 1], twice that range, so the step
taken is 2 * eps (:data:`PIXEL_SCALE`).

Both scores run in fp32 whatever the training precision: the largest ODIN step, 0.008 in model
units, is finer than bf16's spacing near 1 (0.0078), so under bf16 autocast the perturbation would
mostly round away; MSP runs alike so that ODIN at (T=1, eps=0) is MSP exactly.

Scores are the *log* of the maximum softmax probability, computed in float64 as -log1p(sum of the other
classes' exp(z - z_max)): the same order as the probability, without the ties that probabilities
rounded to 1 give a confident network (ties that would move AUROC).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from core.metrics import detection_metrics, fpr_at_tpr
from core.ood.model import TwoHeadWRN

ODIN_TEMPERATURES: tuple[float, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
ODIN_EPSILONS: tuple[float, ...] = tuple(float(e) for e in np.linspace(0, 0.004, 21))
PIXEL_SCALE = 2.0  # model input units per [0, 1] pixel unit: pixels are scaled to [-1, 1]
TUNING_CRITERION = "fpr95"  # ODIN's: the lowest FPR at 95% TPR on the tuning images; ties to the higher AUROC

TuneProgressFn = Callable[[int, int], None]  # (temperatures done, temperatures in all)


def log_max_softmax(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """(N,) float64 log of the largest softmax probability of ``logits / temperature``."""
    z = logits.double() / temperature
    rest = torch.exp(z - z.max(1, keepdim=True).values)
    rest[torch.arange(len(z), device=z.device), z.argmax(1)] = 0.0
    return -torch.log1p(rest.sum(1))


def class_batch(device: torch.device, images: int | None) -> int:
    """Images per class-head batch: the config's, else 128 on a CPU and 512 on a GPU (ODIN keeps a
    backward pass's activations)."""
    return images or (512 if device.type == "cuda" else 128)


def _batches(x: torch.Tensor, size: int) -> list[torch.Tensor]:
    return [x[i:i + size] for i in range(0, len(x), size)]


def _class_head(net: TwoHeadWRN, x: torch.Tensor, device: torch.device, batch: int | None,
                read: Callable[[torch.Tensor], torch.Tensor]) -> np.ndarray:
    """``read(logits)`` of the class head over ``x`` (N, C, H, W) in [-1, 1], batch by batch, in fp32."""
    net.eval()
    with torch.inference_mode():
        parts = [read(net.class_logits(chunk.to(device, torch.float32))).cpu().numpy()
                 for chunk in _batches(x, class_batch(device, batch))]
    return np.concatenate(parts) if parts else np.zeros(0)


def max_softmax(net: TwoHeadWRN, x: torch.Tensor, device: torch.device, batch: int | None = None) -> np.ndarray:
    """(N,) MSP's score of images ``x``: the log of the class head's largest softmax probability."""
    return _class_head(net, x, device, batch, log_max_softmax)


def predicted_classes(net: TwoHeadWRN, x: torch.Tensor, device: torch.device, batch: int | None = None) -> np.ndarray:
    """(N,) the class head's predicted category of each image."""
    return _class_head(net, x, device, batch, lambda logits: logits.argmax(1))


def odin(net: TwoHeadWRN, x: torch.Tensor, temperature: float, epsilons: Sequence[float], device: torch.device,
         batch: int | None = None) -> np.ndarray:
    """(len(epsilons), N) ODIN scores of ``x`` at one temperature and each perturbation size.

    The gradient's sign depends on T, not on eps, so it is taken once per image and temperature and
    every eps costs one more forward pass (eps = 0 costs none: it is the unperturbed pass).
    """
    net.eval()
    out = np.empty((len(epsilons), len(x)))
    start = 0
    for chunk in _batches(x, class_batch(device, batch)):
        inputs = chunk.to(device, torch.float32).clone().requires_grad_(any(epsilons))  # never a view of x
        with torch.set_grad_enabled(any(epsilons)):
            logits = net.class_logits(inputs)
            if any(epsilons):
                loss = F.cross_entropy(logits / temperature, logits.argmax(1), reduction="sum")
                step = torch.autograd.grad(loss, inputs)[0].sign()
        sl = slice(start, start + len(chunk))
        with torch.no_grad():
            unperturbed = log_max_softmax(logits.detach(), temperature).cpu().numpy()
            for j, eps in enumerate(epsilons):
                if eps == 0:
                    out[j, sl] = unperturbed
                else:  # the cross-entropy is -log S_max: stepping against its gradient raises S_max
                    moved = inputs.detach() - PIXEL_SCALE * eps * step
                    out[j, sl] = log_max_softmax(net.class_logits(moved), temperature).cpu().numpy()
        start += len(chunk)
    return out


@dataclass(frozen=True)
class OdinTuning:
    """ODIN's grid on the tuning images and the (T, eps) chosen from it."""

    temperatures: tuple[float, ...]
    epsilons: tuple[float, ...]
    fpr95: np.ndarray  # (T, eps): FPR at 95% TPR on the tuning images
    auroc: np.ndarray  # (T, eps): AUROC on the tuning images
    temperature: float
    epsilon: float

    def record(self) -> dict[str, object]:
        """What run.json keeps of the tuning (the grid's values go to scores.npz)."""
        i, j = self.temperatures.index(self.temperature), self.epsilons.index(self.epsilon)
        return {"temperature": self.temperature, "epsilon": self.epsilon, "criterion": TUNING_CRITERION,
                "tuning_fpr95": float(self.fpr95[i, j]), "tuning_auroc": float(self.auroc[i, j]),
                "temperatures": list(self.temperatures), "epsilons": list(self.epsilons)}


def tune_odin(net: TwoHeadWRN, x_in: torch.Tensor, x_out: torch.Tensor, device: torch.device,
              batch: int | None = None, temperatures: Sequence[float] = ODIN_TEMPERATURES,
              epsilons: Sequence[float] = ODIN_EPSILONS, progress: TuneProgressFn | None = None) -> OdinTuning:
    """Score the tuning images at every (T, eps) and choose ODIN's way: the lowest FPR at 95% TPR
    (in-distribution = positive), ties broken by the higher AUROC, then by grid order.

    Only the images passed here are seen: the caller holds them out of the evaluation.
    """
    x = torch.cat([x_in, x_out])
    is_in = np.r_[np.ones(len(x_in), bool), np.zeros(len(x_out), bool)]
    fpr = np.empty((len(temperatures), len(epsilons)))
    auroc = np.empty_like(fpr)
    for i, temperature in enumerate(temperatures):
        for j, scores in enumerate(odin(net, x, temperature, epsilons, device, batch)):
            fpr[i, j] = fpr_at_tpr(is_in, scores)
            auroc[i, j] = detection_metrics(is_in, scores)["auroc"]
        if progress is not None:
            progress(i + 1, len(temperatures))
    best = np.lexsort((np.arange(fpr.size), -auroc.ravel(), fpr.ravel()))[0]
    i, j = np.unravel_index(best, fpr.shape)
    return OdinTuning(tuple(map(float, temperatures)), tuple(map(float, epsilons)), fpr, auroc,
                      float(temperatures[i]), float(epsilons[j]))
