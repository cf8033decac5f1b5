"""What defines an out-of-distribution run (the paper's Section 5.5), and its presets, declared once.

Plain data like :class:`core.config.GeomConfig`, stored in run.json and in the checkpoint. The fields the
two-headed network shares with a GEOM detector (its WRN, transforms, precision, scoring batch) are
checked by building that detector's config (:meth:`OodConfig.geom_config`), so the two never disagree
on what a valid WRN or batch is.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from core.config import GeomConfig, check_count, check_known_fields
from core.transforms import TransformSet

OPTIMIZERS = ("adam", "sgd")
LR_DROP_FACTOR = 0.2  # the authors' schedule multiplies the rate by 0.2 at each drop
_COUNTS_OR_NONE = ("epochs", "steps", "class_batch_images")


@dataclass(frozen=True)
class OodConfig:
    # ----- the two-headed classifier (core.ood.model.TwoHeadWRN) --------------------------------
    depth: int = 10  # WRN depth (6n+4); the authors' Section 5.5 model: WRN-16-8
    width: int = 2  # WRN widening factor
    transforms: str = "paper72"  # the transform head's set (a core.transforms name or list)
    image_size: int = 32  # input side in pixels (32 or 64), the in-distribution set's
    in_channels: int = 3  # 1 for grey sets, 3 for colour
    # ----- training: both heads at once, the sum of their cross-entropies ------------------------
    batch_size: int = 128
    epochs: int | None = 200  # passes over the labelled training images, each under one random transform
    steps: int | None = None  # if set, overrides epochs with this many optimiser steps
    optimizer: str = "adam"  # "adam", or "sgd": Nesterov momentum 0.9, as the authors trained this model
    lr: float = 1e-3
    lr_drops: tuple[float, ...] = ()  # shares of the steps after which lr is multiplied by LR_DROP_FACTOR
    weight_decay: float = 5e-4  # PyTorch's L2 term, = Keras l2(2.5e-4) on all weights (the authors')
    max_train_images: int | None = None  # cap on labelled training images (None = all)
    # ----- evaluation ------------------------------------------------------------------------------
    max_test_images: int | None = None  # cap on each side: in-distribution test images, OOD images (None = all)
    tune_images: int = 1000  # per side, held out of the evaluation to tune ODIN's (T, eps) on (ODIN's 1,000)
    score_batch_images: int | None = None  # GEOM scoring: images per batch, each 72 inputs (None: by device)
    class_batch_images: int | None = None  # MSP and ODIN: images per batch (None: 128 on a CPU, 512 on a GPU)
    # ----- execution -------------------------------------------------------------------------------
    precision: str = "auto"  # training and GEOM scoring (MSP and ODIN always run in fp32: core.ood.odin)
    seed: int = 0

    def __post_init__(self) -> None:
        """Refuse, naming the field, what cannot train or evaluate; the shared fields by GeomConfig's rules."""
        object.__setattr__(self, "lr_drops", tuple(self.lr_drops))  # JSON gives a list back
        self.geom_config()
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        if list(self.lr_drops) != sorted(self.lr_drops) or not all(0 < f < 1 for f in self.lr_drops):
            raise ValueError(f"lr_drops must be increasing shares of the steps, each in (0, 1), got {self.lr_drops}")
        check_count("tune_images", self.tune_images)
        for name in _COUNTS_OR_NONE:
            if getattr(self, name) is not None:
                check_count(name, getattr(self, name))
        if self.epochs is None and self.steps is None:
            raise ValueError("give epochs or steps: the training needs a length")

    def geom_config(self) -> GeomConfig:
        """The GEOM detector config of the transform head: what scores it with GEOM's own scoring path."""
        return GeomConfig(depth=self.depth, width=self.width, transforms=self.transforms, image_size=self.image_size,
                          in_channels=self.in_channels, batch_size=self.batch_size, steps=self.steps, lr=self.lr,
                          weight_decay=self.weight_decay, max_train_images=self.max_train_images,
                          max_test_images=self.max_test_images, score_batch_images=self.score_batch_images,
                          precision=self.precision, seed=self.seed)

    def transform_set(self) -> TransformSet:
        return TransformSet.by_name(self.transforms, self.image_size)

    def total_steps(self, n_images: int) -> int:
        """Optimiser steps: explicit ``steps``, else ``epochs`` of ``n_images // batch_size`` steps (the
        authors' steps per epoch)."""
        if self.steps is not None:
            return self.steps
        assert self.epochs is not None  # __post_init__ refuses neither
        return self.epochs * max(1, n_images // self.batch_size)

    def drop_steps(self, total: int) -> list[int]:
        """The steps after which the learning rate drops, for a training of ``total`` steps."""
        return [max(1, math.floor(f * total)) for f in self.lr_drops]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OodConfig:
        check_known_fields(cls, data, "OOD config")
        return cls(**data)


# The presets, applied to the in-distribution set's shape. The authors' model for Section 5.5
# (multiclass_experiment.py in their code) is "paper": WRN-16-8, SGD at 0.1 with Nesterov momentum 0.9,
# the rate times 0.2 after epochs 60, 120 and 160 of 200, batch 128, every training image once per epoch
# under a random transform.
OOD_PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"depth": 16, "width": 8, "optimizer": "sgd", "lr": 0.1, "lr_drops": (0.3, 0.6, 0.8), "epochs": 200},
    # For a 2-core CPU: WRN-10-2 and Adam at 1e-3, as GEOM's `colour` preset. Not measured yet; estimated
    # for CIFAR-10 vs CIFAR-100 from the GEOM throughputs in the README (bf16, idle): 5,000 steps of 128 at
    # 1,350 images/s (8 minutes), GEOM scoring of 18,000 images x 72 at 6,500/s (3 minutes), and ODIN's
    # grid (10 temperatures x 21 magnitudes, about 230 forward passes per image) on 2,000 tuning images
    # in fp32 at roughly 1,200 images/s (6-7 minutes): 20-30 minutes in all.
    "quick": {"depth": 10, "width": 2, "steps": 5000, "epochs": None},
    # Seconds, for tests: a few steps on a few hundred images, 60 test images a side of which 15 tune ODIN.
    "tiny": {"depth": 10, "width": 1, "steps": 30, "epochs": None, "batch_size": 32, "max_train_images": 300,
             "max_test_images": 60, "tune_images": 15},
}
OOD_PRESET_SUMMARIES: dict[str, str] = {
    "paper": "the authors' WRN-16-8, SGD, 200 epochs: a GPU",
    "quick": "WRN-10-2, 5,000 Adam steps: 20-30 minutes on a 2-core CPU (estimated, not measured)",
    "tiny": "seconds: a rough model for tests",
}


def ood_preset_help() -> str:
    return "; ".join(f"{name}: {OOD_PRESET_SUMMARIES[name]}" for name in OOD_PRESETS)


def ood_preset_config(preset: str, image_size: int, in_channels: int, **overrides: Any) -> OodConfig:
    """The named preset for an in-distribution set of this shape, with any explicit overrides on top."""
    if preset not in OOD_PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(OOD_PRESETS)}")
    values = {**OOD_PRESETS[preset], **overrides}
    unknown = set(values) - {f.name for f in fields(OodConfig)}
    if unknown:
        raise ValueError(f"unknown OOD config fields {sorted(unknown)}")
    return replace(OodConfig(image_size=image_size, in_channels=in_channels), **values)
