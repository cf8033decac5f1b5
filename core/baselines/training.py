"""Training and inference steps shared by the baselines that train a network (CAE, Deep SVDD, DSEBM, DAGMM, ADGAN).

They all train alike: a seeded shuffle per epoch, minibatches of the normal images, one optimiser
step per batch, the mean loss per epoch reported as progress. Writing that loop once keeps their
use of the random generator, and so their seeded results, the same kind of thing, and gives every
one of them the same refusal of a loss that stopped being a number (:func:`loss_value`, which
ADGAN's adversarial loop, two optimisers taking turns, calls on its own).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
from torch import nn

from core.baselines.common import BaselineFitError, ProgressFn

INFERENCE_BATCH = 1024  # images per forward pass when scoring or encoding


def minibatches(n: int, batch_size: int, gen: torch.Generator) -> list[torch.Tensor]:
    """One epoch's index batches in a seeded random order, a last batch of one image dropped:
    BatchNorm cannot train on a single image."""
    order = torch.randperm(n, generator=gen)
    return [b for b in order.split(batch_size) if len(b) > 1]


def loss_value(loss: torch.Tensor, label: str, where: str) -> float:
    """The loss as a float; BaselineFitError when it is NaN or infinite (the training diverged: nothing
    after that step would mean anything). ``label`` names the network, ``where`` the step."""
    value = float(loss.detach())
    if not math.isfinite(value):
        raise BaselineFitError(f"{label}: the loss became {value} in {where}; "
                               "the training diverged (a smaller learning rate may help)")
    return value


def train_epochs(x: torch.Tensor, loss_of: Callable[[torch.Tensor], torch.Tensor], opt: torch.optim.Optimizer,
                 epochs: int, batch_size: int, gen: torch.Generator, device: torch.device, progress: ProgressFn,
                 label: str) -> list[float]:
    """Minimise ``loss_of(batch)`` over ``epochs`` passes of ``x``; returns the mean loss of each epoch.

    The caller puts its modules in training mode first. ``progress`` hears the fraction of epochs
    done; ``label`` names the network in its messages and in the error raised when the loss
    becomes NaN or infinite (:func:`loss_value`).
    """
    losses: list[float] = []
    start = time.perf_counter()
    for epoch in range(epochs):
        total = 0.0
        for idx in minibatches(len(x), batch_size, gen):
            loss = loss_of(x[idx].to(device, non_blocking=True))
            value = loss_value(loss, label, f"epoch {epoch + 1}/{epochs}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += value * len(idx)
        losses.append(total / len(x))
        progress((epoch + 1) / epochs, f"{label} epoch {epoch + 1}/{epochs} loss {losses[-1]:.4g} "
                 f"{time.perf_counter() - start:.0f}s")
    return losses


@torch.inference_mode()
def map_batches(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, device: torch.device,
                batch_size: int = INFERENCE_BATCH) -> torch.Tensor:
    """``fn`` applied to ``x`` batch by batch on ``device``, the outputs joined on the CPU (no gradients)."""
    if not len(x):
        return fn(x.to(device)).cpu()
    return torch.cat([fn(x[s:s + batch_size].to(device)).cpu() for s in range(0, len(x), batch_size)])


def cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """A module's weights and buffers, detached on the CPU: what a checkpoint stores."""
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}
