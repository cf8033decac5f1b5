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

from core.threshold import check_contamination
from core.transforms import TransformSet

NETWORKS = ("wrn", "small_cnn")
# Which normal images the Dirichlets are fitted on (GeomDetector.fit_scoring gives the default's reason).
DIRICHLET_FITS = ("training", "held_out")
MAX_HOLDOUT_FRACTION = 0.5
# What a config saved before a field existed did, where that differs from the field's default: runs
# trained before hold-outs used every normal training image and set no threshold.
BEFORE_FIELDS: dict[str, Any] = {"holdout_fraction": 0.0}


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


def check_count(name: str, value: object) -> None:
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
    # ----- decisions (PyOD's threshold_, predict; see core.threshold) -------------------------
    contamination: float = 0.05  # share of held-out normal images the threshold calls anomalous, in (0, 0.5]
    holdout_fraction: float = 0.1  # normal training images held out of training to set it (0: none, no threshold)
    dirichlet_fit: str = "training"  # fit the Dirichlets on "training" images (the paper) or the "held_out" ones
    # ----- execution ----------------------------------------------------------------------------
    precision: str = "auto"  # auto (bf16 where it is faster), bf16, or fp32
    seed: int = 0

    def __post_init__(self) -> None:
        """Refuse, naming the field, settings that cannot train (no steps, empty batches) or would
        fail only once data are loaded and training starts (a negative seed)."""
        if self.network not in NETWORKS:
            raise ValueError(f"unknown network {self.network!r}; choose one of {', '.join(NETWORKS)}")
        for name in _AT_LEAST_ONE:
            check_count(name, getattr(self, name))
        for name in _AT_LEAST_ONE_OR_NONE:
            if getattr(self, name) is not None:
                check_count(name, getattr(self, name))
        if not self.lr > 0:  # also refuses NaN
            raise ValueError(f"lr must be more than 0, got {self.lr}")
        if not self.weight_decay >= 0:  # also refuses NaN
            raise ValueError(f"weight_decay must be 0 or more, got {self.weight_decay}")
        if not _is_whole(self.seed) or self.seed < 0:
            raise ValueError(f"seed must be a whole number, 0 or more, got {self.seed!r}")
        check_contamination(self.contamination)
        if not 0 <= self.holdout_fraction <= MAX_HOLDOUT_FRACTION:  # also refuses NaN
            raise ValueError(f"holdout_fraction must be in [0, {MAX_HOLDOUT_FRACTION}], got {self.holdout_fraction!r}")
        if self.dirichlet_fit not in DIRICHLET_FITS:
            raise ValueError(f"unknown dirichlet_fit {self.dirichlet_fit!r}; choose one of {', '.join(DIRICHLET_FITS)}")
        if self.dirichlet_fit == "held_out" and self.holdout_fraction == 0:
            raise ValueError("dirichlet_fit='held_out' needs held-out images: set holdout_fraction above 0")

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
        """Rebuild from JSON, refusing keys this version does not know (a newer or foreign file); a field
        the file lacks (it predates the field) takes the value that describes what was done then."""
        check_known_fields(cls, data, "config")
        return cls(**{**BEFORE_FIELDS, **data})

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


# Presets are overrides applied to the dataset's shape; LARGE_IMAGE_PRESETS go on top at 64x64.
PRESETS: dict[str, dict[str, Any]] = {
    # Exactly the paper: WRN-10-4 (16-8 at 64x64), 72 transforms, ceil(200/72)=3 epochs, all data:
    # no normal image is held out, so these runs save no threshold (the other presets hold 10% out).
    "paper": {"holdout_fraction": 0.0},
    # A detector that trains and scores one class, whole test set included, in under three minutes
    # on a 2-core CPU: WRN-10-1 instead of 10-4 (about 9x fewer FLOPs), 1,500 steps of 128 instead
    # of 3 epochs (1/7 of the paper's 10,125 steps on a 6,000-image class), Dirichlet fitted on 500
    # normal training images instead of all. All 72 transforms; the whole test set. Made for
    # 28-pixel grey images, where it matches the paper; on CIFAR-10 it falls far short (README).
    "quick": {"width": 1, "steps": 1500, "fit_images": 500},
    # The CPU preset for natural colour images (README, "Choosing a colour CPU preset"): WRN-10-2,
    # which keeps up with the paper's WRN-10-4 step for step at about a quarter of the FLOPs, trained
    # for 6,000 steps of 128 (0.7 of the paper's 8,438 on a CIFAR class), which leaves time to fit the
    # Dirichlet on every normal image it trained on and score the whole test set within 15 minutes per
    # 32-pixel class on a 2-core CPU with bf16.
    "colour": {"width": 2, "steps": 6000, "fit_images": None},
    # Seconds, for tests and smoke runs: a handful of steps on a few hundred images.
    "tiny": {"width": 1, "steps": 40, "batch_size": 64, "max_train_images": 500, "fit_images": 200,
             "max_test_images": 600},
}
# At 64x64 (Cats-vs-Dogs) every image costs 4x the FLOPs of a 32x32 one: the paper switches to
# WRN-16-8, and the colour preset keeps WRN-10-2 with fewer steps (30 minutes per class).
LARGE_IMAGE_PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"depth": 16, "width": 8},
    "colour": {"steps": 3000, "fit_images": 2500},
}
LARGE_IMAGE_SIZE = 64
# One line per preset, for the command line's --help and the explorer's sidebar.
PRESET_SUMMARIES: dict[str, str] = {
    "paper": "the paper's WRN-10-4 (16-8 at 64x64), 3 epochs: a GPU",
    "quick": "WRN-10-1, 1,500 steps: minutes per class on a CPU, made for grey 28-pixel images",
    "colour": "WRN-10-2, 6,000 steps (3,000 at 64x64): 15 minutes per CIFAR class on a CPU",
    "tiny": "seconds: a rough model for tests",
}


def preset_help() -> str:
    return "; ".join(f"{name}: {PRESET_SUMMARIES[name]}" for name in PRESETS)


# Baselines have no budget of their own for these GEOM presets: they run the named one instead.
BASELINE_BUDGET_OF = {"colour": "quick"}


def preset_config(preset: str, image_size: int, in_channels: int, **overrides: Any) -> GeomConfig:
    """The named preset for a dataset of this shape, with any explicit overrides on top."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    cfg = replace(GeomConfig(image_size=image_size, in_channels=in_channels), **PRESETS[preset])
    if image_size >= LARGE_IMAGE_SIZE:
        cfg = replace(cfg, **LARGE_IMAGE_PRESETS.get(preset, {}))
    return replace(cfg, **overrides) if overrides else cfg
