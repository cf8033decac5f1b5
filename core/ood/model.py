"""The two-headed WRN of Section 5.5: one body, a softmax over the transforms and one over the categories.

The network is core.wrn's WideResNet with one more linear head on the same pooled features. Its
``forward`` stays the transform head's, so GEOM's own scoring path (:class:`core.detector.GeomDetector`:
batches of 72 transforms per image, BN folding, bf16 where it is faster, a float64 softmax) scores it
unchanged; the class head is read with :meth:`TwoHeadWRN.heads` and :meth:`TwoHeadWRN.class_logits`.

Training follows the authors' code: every training image is drawn under a random transform, with its
class label and its transform label, and the loss is the sum of the two cross-entropies. The pairs are
drawn as GEOM's training draws them (core.train.pair_batches), and progress is reported alike.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.detector import GeomDetector, ScoreProgressFn
from core.ood.config import LR_DROP_FACTOR, OodConfig
from core.runs import CheckpointError, atomic_torch_save, read_checkpoint_dict
from core.train import (
    MEMORY_FORMAT,
    ProgressFn,
    ProgressTally,
    TrainProgress,
    autocast_context,
    pair_batches,
    resolve_device,
    resolve_precision,
)
from core.wrn import WideResNet

CHECKPOINT_FORMAT = "geom-ood/1"


class TwoHeadWRN(WideResNet):
    """A WRN whose own head (``fc``) tells the k transforms apart, with a second head (``class_fc``) over
    the dataset's ``num_categories`` categories, both on the same pooled features."""

    def __init__(self, depth: int, width: int, num_transforms: int, num_categories: int, in_channels: int = 3,
                 image_size: int = 32) -> None:
        super().__init__(depth, width, num_transforms, in_channels, image_size)
        self.num_categories = num_categories
        self.class_fc = nn.Linear(self.fc.in_features, num_categories)
        self.reset_parameters()  # the class head gets the WRN's linear-head initialisation too

    def heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(transform logits, class logits) of one pass through the body."""
        h = self.features(x)
        return self.fc(h), self.class_fc(h)

    def class_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits over the categories alone (what MSP and ODIN read)."""
        return self.class_fc(self.features(x))


def build_two_head(config: OodConfig, num_categories: int) -> TwoHeadWRN:
    return TwoHeadWRN(config.depth, config.width, len(config.transform_set()), num_categories, config.in_channels,
                      config.image_size)


def make_optimiser(model: nn.Module, config: OodConfig,
                   total: int) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """The config's optimiser and its step schedule (constant when ``lr_drops`` is empty)."""
    if config.optimizer == "sgd":
        optimiser: torch.optim.Optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9,
                                                           nesterov=True, weight_decay=config.weight_decay)
    else:
        optimiser = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimiser, config.drop_steps(total), gamma=LR_DROP_FACTOR)
    return optimiser, schedule


def train_two_head(x: torch.Tensor, y: np.ndarray, config: OodConfig, num_categories: int, device: torch.device,
                   progress: ProgressFn | None = None,
                   history: list[TrainProgress] | None = None) -> TwoHeadWRN:
    """Train both heads on labelled images ``x`` (N, C, H, W) in [-1, 1] with class labels ``y``.

    Each step takes a batch of (image, transform) pairs, transforms the images on the device, and
    minimises the transform head's cross-entropy plus the class head's. The accuracy reported to
    ``progress`` and ``history`` is the class head's, on those transformed training images.
    """
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    tset = config.transform_set()
    dtype = resolve_precision(config.precision, device)
    model = build_two_head(config, num_categories).to(device=device, memory_format=MEMORY_FORMAT)
    total = config.total_steps(len(x))
    optimiser, schedule = make_optimiser(model, config, total)
    x = x.to(device)
    labels_of = torch.as_tensor(np.asarray(y), dtype=torch.long, device=device)
    tally = ProgressTally(total, device, optimiser, progress, history)
    model.train()
    for step, (img_idx, t) in enumerate(pair_batches(len(x), len(tset), config.batch_size, total, generator), 1):
        img_idx, t = img_idx.to(device, non_blocking=True), t.to(device, non_blocking=True)
        batch = tset.apply(x[img_idx], t).contiguous(memory_format=MEMORY_FORMAT)
        labels = labels_of[img_idx]
        with autocast_context(device, dtype):
            t_logits, c_logits = model.heads(batch)
        loss = F.cross_entropy(t_logits.float(), t) + F.cross_entropy(c_logits.float(), labels)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        tally.add(step, loss, c_logits, labels)
    return model.eval()


@dataclass
class OodModel:
    """A trained two-headed network with what it needs to score: its config and its categories."""

    net: TwoHeadWRN
    config: OodConfig
    class_names: tuple[str, ...]
    device: torch.device
    history: list[TrainProgress] = field(default_factory=list)  # the training's reports (empty once loaded)
    _scorer: GeomDetector | None = field(default=None, repr=False)

    @classmethod
    def train(cls, x: torch.Tensor, y: np.ndarray, config: OodConfig, class_names: tuple[str, ...],
              device: str | torch.device = "auto", progress: ProgressFn | None = None) -> OodModel:
        dev = resolve_device(device)
        history: list[TrainProgress] = []
        net = train_two_head(x, y, config, len(class_names), dev, progress, history)
        return cls(net, config, tuple(class_names), dev, history)

    def transform_scorer(self) -> GeomDetector:
        """A GEOM detector whose classifier is the transform head: GEOM's scoring path, reused as it is."""
        if self._scorer is None:
            det = GeomDetector(self.config.geom_config(), self.device)
            det.model = self.net
            self._scorer = det
        return self._scorer

    def geom_score(self, x: np.ndarray | torch.Tensor, progress: ScoreProgressFn | None = None) -> np.ndarray:
        """The paper's OOD score: the simplified score of the transform head, the mean over the transforms
        of the probability of the right one (higher = more in-distribution)."""
        return self.transform_scorer().score(x, "simple", progress)

    def save(self, path: str | os.PathLike) -> None:
        """One dict of tensors and plain values, written atomically (as every checkpoint here)."""
        atomic_torch_save({
            "format": CHECKPOINT_FORMAT,
            "config": self.config.to_dict(),
            "class_names": list(self.class_names),
            "model": {k: v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()},
        }, path)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device = "auto") -> OodModel:
        """Open a checkpoint :meth:`save` wrote; CheckpointError saying why for anything else (a GEOM or
        baseline checkpoint is refused by its format)."""
        path = Path(path)
        state = read_checkpoint_dict(path, CHECKPOINT_FORMAT, "out-of-distribution",
                                     ". Point at the model.pt of a run folder made by `python -m core ood`.")
        try:
            config = OodConfig.from_dict(state["config"])
            class_names = tuple(str(c) for c in state["class_names"])
            net = build_two_head(config, len(class_names))
            net.load_state_dict(state["model"])
        except (TypeError, ValueError, KeyError, RuntimeError) as exc:
            raise CheckpointError(f"{path}: the stored model does not match its config ({exc})") from exc
        dev = resolve_device(device)
        return cls(net.to(dev, memory_format=MEMORY_FORMAT).eval(), config, class_names, dev)
