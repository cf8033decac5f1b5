"""What defines a GEOM detector, and the named presets (paper / quick / tiny).

A config is plain data: it is stored as JSON beside every run and inside every checkpoint, so a
model trained on a GPU box opens unchanged on a laptop, and a checkpoint from another setting can
be refused with a reason instead of silently producing nonsense.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from core.transforms import TransformSet

NETWORKS = ("wrn", "small_cnn")


def check_known_fields(cls: type, data: dict[str, Any], label: str) -> None:
    """Refuse keys the dataclass ``cls`` lacks: a file from a newer version or another tool."""
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown {label} fields {sorted(unknown)}; known: {sorted(known)}")


# Counts a config must hold at least one of; the second group may also be None (= "all" / "default").
_AT_LEAST_ONE = ("depth", "width", "image_size", "batch_size")
_AT_LEAST_ONE_OR_NONE = ("epochs", "steps", "max_train_images", "fit_images", "max_test_images", "score_batch_images")


def _is_whole(value: object) -> bool:
    """Python or numpy integers, not bools (True would pass as 1)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_count(name: str, value: object) -> None:
    """A whole number of at least 1, or a ValueError naming the field."""
    if not _is_whole(value) or value < 1:
        raise ValueError(f"{name} must be a whole number, 1 or more, got {value!r}")


@dataclass(frozen=True)
class GeomConfig:
    # ----- the classifier --------------------------------------------------------------------
    depth: int = 10  # WRN depth (6n+4); the paper: 10 at 32x32, 16 at 64x64
    width: int = 4  # WRN widening factor; the paper: 4 at 32x32, 8 at 64x64
    network: str = "wrn"  # "wrn" (the paper's), or "small_cnn" (position-sensitive; Section 6 ablations)
    transforms: str = "paper72"  # a TransformSet name (paper72, flip, translateN, ...) or list (TransformSet.spec)
    image_size: int = 32  # input side in pixels (32 or 64)
    in_channels: int = 3  # 1 for MNIST-like data, 3 for colour
    # ----- training (the paper: Adam 1e-3, batch 128, ceil(200/k) epochs over |S|*k images) ----
    batch_size: int = 128
    epochs: int | None = None  # passes over the self-labelled set; None = ceil(200 / k)
    steps: int | None = None  # if set, overrides epochs with this many optimiser steps
    lr: float = 1e-3
    weight_decay: float = 5e-4  # PyTorch Adam's L2 term, = Keras l2(2.5e-4) on all weights
    max_train_images: int | None = None  # cap on normal training images (None = all)
    # ----- scoring ------------------------------------------------------------------------------
    fit_images: int | None = None  # normal training images used for the Dirichlet fit (None = all)
    max_test_images: int | None = None  # stratified test subsample (None = the whole test set)
    score_batch_images: int | None = None  # images per scoring batch, each k inputs (None: 8 on CPU, 256 on GPU)
    # ----- execution ----------------------------------------------------------------------------
    precision: str = "auto"  # auto (bf16 where it is faster), bf16, or fp32
    seed: int = 0

    def __post_init__(self) -> None:
        """Refuse, naming the field, settings that cannot train (no steps, empty batches) or would
        fail only once data are loaded and training starts (a negative seed)."""
        if self.network not in NETWORKS:
            raise ValueError(f"unknown network {self.network!r}; choose one of {', '.join(NETWORKS)}")
        for name in _AT_LEAST_ONE:
            _check_count(name, getattr(self, name))
        for name in _AT_LEAST_ONE_OR_NONE:
            if getattr(self, name) is not None:
                _check_count(name, getattr(self, name))
        if not self.lr > 0:  # also refuses NaN
            raise ValueError(f"lr must be more than 0, got {self.lr}")
        if not self.weight_decay >= 0:  # also refuses NaN
            raise ValueError(f"weight_decay must be 0 or more, got {self.weight_decay}")
        if not _is_whole(self.seed) or self.seed < 0:
            raise ValueError(f"seed must be a whole number, 0 or more, got {self.seed!r}")

    def transform_set(self) -> TransformSet:
        return TransformSet.by_name(self.transforms, self.image_size)

    @property
    def num_transforms(self) -> int:
        return len(self.transform_set())

    def total_steps(self, n_images: int) -> int:
        """Optimiser steps: explicit ``steps``, else epochs over the virtual |S|*k set."""
        if self.steps is not None:
            return self.steps
        k = self.num_transforms
        epochs = self.epochs if self.epochs is not None else math.ceil(200 / k)
        return max(1, math.ceil(epochs * n_images * k / self.batch_size))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GeomConfig:
        """Rebuild from JSON, refusing keys this version does not know (a newer or foreign file)."""
        check_known_fields(cls, data, "config")
        return cls(**data)

    def architecture(self) -> dict[str, Any]:
        """The fields a checkpoint's weights depend on: a mismatch here means it cannot be loaded."""
        return {
            "network": self.network,
            "depth": self.depth,
            "width": self.width,
            "transforms": self.transform_set().as_lists(),
            "image_size": self.image_size,
            "in_channels": self.in_channels,
        }


# Presets are overrides applied to the dataset's shape. "paper" picks the 64x64 architecture for
# Cats-vs-Dogs in preset_config.
PRESETS: dict[str, dict[str, Any]] = {
    # Exactly the paper: WRN-10-4 (16-8 at 64x64), 72 transforms, ceil(200/72)=3 epochs, all data.
    "paper": {},
    # A detector that trains and scores one class, whole test set included, in under three minutes
    # on a 2-core CPU: WRN-10-1 instead of 10-4 (about 9x fewer FLOPs), 1,500 steps of 128 instead
    # of 3 epochs (1/7 of the paper's 10,125 steps on a 6,000-image class), Dirichlet fitted on 500
    # normal training images instead of all. All 72 transforms; the whole test set.
    "quick": {"width": 1, "steps": 1500, "fit_images": 500},
    # Seconds, for tests and smoke runs: a handful of steps on a few hundred images.
    "tiny": {"width": 1, "steps": 40, "batch_size": 64, "max_train_images": 500, "fit_images": 200,
             "max_test_images": 600},
}


def preset_config(preset: str, image_size: int, in_channels: int, **overrides: Any) -> GeomConfig:
    """The named preset for a dataset of this shape, with any explicit overrides on top."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    base = GeomConfig(image_size=image_size, in_channels=in_channels)
    if image_size >= 64 and preset == "paper":
        base = replace(base, depth=16, width=8)
    cfg = replace(base, **PRESETS[preset])
    return replace(cfg, **overrides) if overrides else cfg
