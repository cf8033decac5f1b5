"""Self-labelled training: teach a WRN which transform was applied to a normal image.

The self-labelled set {(T_j(x), j)} has |S|*k images (4.4 GB for one CIFAR class at k=72), so it is
never built. Each epoch shuffles the |S|*k (image, transform) pairs, and each batch gathers its
images and transforms them on the device: the same sequence of examples as the authors' shuffled
materialised set, for the memory of the raw images alone.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from core.config import GeomConfig
from core.small_cnn import SmallCNN
from core.wrn import WideResNet


@dataclass(frozen=True)
class TrainProgress:
    """What a progress display needs after some steps (loss is the mean since the last report).

    The same records, kept in a list, are a run's training history (history.json), so the command
    line, the explorer and the notebook all show one account of how training went.
    """

    step: int
    total_steps: int
    loss: float
    accuracy: float
    elapsed_s: float
    lr: float

    @property
    def fraction(self) -> float:
        return self.step / self.total_steps

    def as_record(self) -> dict[str, float]:
        """One row of history.json: plain numbers, so any reader (or json.load) can use it."""
        return {"step": self.step, "loss": self.loss, "accuracy": self.accuracy, "lr": self.lr,
                "elapsed_s": round(self.elapsed_s, 3)}


ProgressFn = Callable[[TrainProgress], None]
StepFn = Callable[[int, torch.nn.Module], None]


DEVICE_CHOICES = "auto, cpu, cuda, cuda:N or mps"
"""The device strings the project accepts, as a user is told them."""
_DEVICE_TYPES = ("cpu", "cuda", "mps")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` is the GPU when there is one, else the CPU.

    Anything else must name a device type the project runs on and that exists on this machine:
    an unknown string or a missing GPU is a ValueError with a one-line message, never torch's
    own traceback, so the command line, the app and the notebook can show it as it is.
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        dev = None
    if dev is None or dev.type not in _DEVICE_TYPES:
        raise ValueError(f"unknown device {str(device)!r}; use {DEVICE_CHOICES}")
    if dev.type == "cuda":
        _check_cuda(dev)
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' was asked for but Apple's Metal backend is not available here; use cpu or auto")
    return dev


def _check_cuda(dev: torch.device) -> None:
    """Refuse a CUDA device this machine does not have, saying which ones it has."""
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise ValueError(f"device {str(dev)!r} was asked for but no CUDA GPU is available; use cpu or auto")
    if dev.index is not None and dev.index >= count:
        raise ValueError(f"device {str(dev)!r} was asked for but this machine has {count} CUDA GPU(s): "
                         f"cuda:0..cuda:{count - 1}")


def cpu_has_bf16_matmul() -> bool:
    """True when oneDNN has native bf16 kernels here (AVX512-BF16 or AMX), where bf16 is faster."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, or None for plain fp32."""
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision != "auto":
        raise ValueError(f"unknown precision {precision!r}; choose auto, bf16 or fp32")
    if device.type == "cuda":
        return torch.bfloat16
    return torch.bfloat16 if cpu_has_bf16_matmul() else None


def autocast_context(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


# channels_last everywhere: GPU tensor cores and oneDNN's bf16 kernels want it, and so does oneDNN's fp32
# path on an AVX2 CPU (1.3-1.6x NCHW for a WRN's training step and scoring; ``python -m bench.peer_speed``
# prints both layouts, so the choice can be checked on any machine).
MEMORY_FORMAT = torch.channels_last


def build_model(config: GeomConfig) -> WideResNet | SmallCNN:
    if config.network == "small_cnn":
        return SmallCNN(config.num_transforms, config.in_channels, config.image_size)
    return WideResNet(config.depth, config.width, config.num_transforms, config.in_channels, config.image_size)


def pair_batches(n_images: int, k: int, batch_size: int, steps: int,
                 generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(image index, transform label) batches: epochs of shuffled pairs, cut at ``steps`` batches.

    The arguments are checked here, when it is called, not at the first batch: a generator body
    runs late, and with ``steps`` below 1 its loop would never end.
    """
    for name, value in (("n_images", n_images), ("k", k), ("batch_size", batch_size), ("steps", steps)):
        if value < 1:
            raise ValueError(f"pair_batches needs {name} of at least 1, got {value}")
    return _pair_batches(n_images, k, batch_size, steps, generator)


def _pair_batches(n_images: int, k: int, batch_size: int, steps: int,
                  generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    done = 0
    while True:
        perm = torch.randperm(n_images * k, generator=generator)
        for start in range(0, perm.numel() - batch_size + 1, batch_size):
            pairs = perm[start:start + batch_size]
            yield pairs // k, pairs % k
            done += 1
            if done >= steps:
                return
        if perm.numel() < batch_size:  # fewer pairs than one batch: take them all each step
            yield perm // k, perm % k
            done += 1
            if done >= steps:
                return


def optimise_step(model: torch.nn.Module, optimiser: torch.optim.Optimizer, batch: torch.Tensor,
                  labels: torch.Tensor, dtype: torch.dtype | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward, backward and update on a ready batch; returns (loss, logits), both detached-ready."""
    with autocast_context(batch.device, dtype):
        logits = model(batch)
    loss = F.cross_entropy(logits.float(), labels)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return loss, logits


def current_lr(optimiser: torch.optim.Optimizer) -> float:
    """The learning rate of the first parameter group: recorded so a history shows any schedule."""
    return float(optimiser.param_groups[0]["lr"])


class ProgressTally:
    """Mean loss and accuracy between reports, sent to ``progress`` and appended to ``history`` every
    ``report_every`` steps and at the last: one account of a training for every loop that trains.

    The sums stay on the device between reports, so keeping a history costs one synchronisation per
    report, not one per step. With neither ``progress`` nor ``history`` it does nothing.
    """

    def __init__(self, total: int, device: torch.device, optimiser: torch.optim.Optimizer,
                 progress: ProgressFn | None, history: list[TrainProgress] | None,
                 report_every: int | None = None) -> None:
        self.total, self.optimiser, self.progress, self.history = total, optimiser, progress, history
        self.report_every = report_every or max(1, total // 100)
        self.active = progress is not None or history is not None
        self.loss_sum = torch.zeros((), device=device)
        self.correct_sum = torch.zeros((), device=device)
        self.seen = 0
        self.start = time.perf_counter()

    def add(self, step: int, loss: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> None:
        """Count one step's mean ``loss`` and the accuracy of ``logits`` on ``labels``; report when due."""
        if not self.active:
            return
        self.loss_sum += loss.detach() * len(labels)
        self.correct_sum += (logits.detach().argmax(1) == labels).sum()
        self.seen += len(labels)
        if step % self.report_every == 0 or step == self.total:
            report = TrainProgress(step, self.total, float(self.loss_sum) / self.seen,
                                   float(self.correct_sum) / self.seen, time.perf_counter() - self.start,
                                   current_lr(self.optimiser))
            if self.history is not None:
                self.history.append(report)
            if self.progress is not None:
                self.progress(report)
            self.loss_sum.zero_()
            self.correct_sum.zero_()
            self.seen = 0


def train_classifier(
    x: torch.Tensor,
    config: GeomConfig,
    device: torch.device,
    progress: ProgressFn | None = None,
    report_every: int | None = None,
    on_step: StepFn | None = None,
    history: list[TrainProgress] | None = None,
) -> WideResNet | SmallCNN:
    """Train the transform classifier on normal images ``x`` (N, C, H, W) in [-1, 1].

    Every ``report_every`` steps (and at the last) the mean loss and accuracy since the previous
    report go to ``progress`` and are appended to ``history`` (:class:`ProgressTally`).

    ``on_step(step, model)`` runs after every optimiser step: the model at step s is the model a
    run of ``steps=s`` would end with (the pair sequence and Adam do not depend on the total), so
    one training can be evaluated at several budgets. It must leave the model in train mode.
    """
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    tset = config.transform_set()
    k = len(tset)
    dtype = resolve_precision(config.precision, device)
    model = build_model(config).to(device=device, memory_format=MEMORY_FORMAT)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    x = x.to(device)
    total = config.total_steps(len(x))
    tally = ProgressTally(total, device, optimiser, progress, history, report_every)
    model.train()
    for step, (img_idx, labels) in enumerate(pair_batches(len(x), k, config.batch_size, total, generator), 1):
        labels = labels.to(device, non_blocking=True)
        batch = tset.apply(x[img_idx.to(device, non_blocking=True)], labels).contiguous(memory_format=MEMORY_FORMAT)
        loss, logits = optimise_step(model, optimiser, batch, labels, dtype)
        tally.add(step, loss, logits, labels)
        if on_step is not None:
            on_step(step, model)
    model.eval()
    return model
