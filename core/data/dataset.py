"""The dataset type every loader returns, its error type, and the step into model input.

Loaders keep images as uint8 until the last moment: memory stays small (CIFAR-10 is four times
larger as float32) and the paper's preprocessing stays explicit: zero-pad Fashion-MNIST 28 -> 32 on
the uint8 pixels, then :func:`to_model_input` scales to [-1, 1], so the pad becomes exactly -1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch


class DataError(Exception):
    """Raised with a message saying what is missing and how to fix it."""


def short_error(err: BaseException, limit: int = 400) -> str:
    """One line naming an exception, short enough to sit inside a DataError message."""
    text = " ".join(f"{type(err).__name__}: {err}".split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ClassNames:
    """A dataset's name and class names with the labels made from them: all that choosing classes
    and planning runs needs, so a machine without the images can plan a sweep that others train
    (``core.sweep``). :class:`ImageDataset` and :class:`DatasetClasses` are both one."""

    name: str
    class_names: tuple[str, ...]
    image_size: int  # side in pixels at model resolution: with channels, all a preset's config needs
    channels: int

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def class_label(self, i: int) -> str:
        """Human label "3 - cat"; just "3" where the class name is its own id (MNIST, digits)."""
        name = self.class_names[i]
        return name if name == str(i) else f"{i} - {name}"

    def class_labels(self) -> list[str]:
        return [self.class_label(i) for i in range(self.num_classes)]


@dataclass(frozen=True)
class DatasetClasses(ClassNames):
    """A dataset's classes without its images (a registry record's, see core.data.dataset_classes)."""

    name: str
    class_names: tuple[str, ...]
    image_size: int
    channels: int


@dataclass(frozen=True, eq=False)
class ImageDataset(ClassNames):
    """A labelled train/test image set at model resolution, kept as uint8 to save memory.

    ``eq=False`` because comparing numpy arrays element-wise has no single truth value; two
    datasets are the same object or they are not.
    """

    name: str  # registry name, e.g. "fashion_mnist" or "folder:/abs/path"
    x_train: np.ndarray  # uint8 (N, H, W, C), C in {1, 3}
    y_train: np.ndarray  # int64 (N,)
    x_test: np.ndarray  # uint8 (M, H, W, C)
    y_test: np.ndarray  # int64 (M,)
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        for split, x, y in (("train", self.x_train, self.y_train), ("test", self.x_test, self.y_test)):
            if x.dtype != np.uint8 or x.ndim != 4 or x.shape[-1] not in (1, 3):
                raise ValueError(f"x_{split} must be uint8 (N, H, W, C) with C in {{1, 3}}, got {x.dtype} {x.shape}")
            if y.shape != (x.shape[0],):
                raise ValueError(f"y_{split} must have shape ({x.shape[0]},), got {y.shape}")
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise ValueError(f"train and test image shapes differ: {self.x_train.shape[1:]} vs {self.x_test.shape[1:]}")

    @property
    def image_size(self) -> int:
        """Height (= width) of every image in pixels."""
        return int(self.x_train.shape[1])

    @property
    def channels(self) -> int:
        return int(self.x_train.shape[3])


def to_model_input(x: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, C) -> float32 (N, C, H, W) in [-1, 1] by :func:`scale_pixels`.

    Only uint8 is accepted so images are never scaled twice.
    """
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise ValueError(f"to_model_input expects uint8 images (0..255), got {x.dtype}")
    if x.ndim != 4:
        raise ValueError(f"to_model_input expects (N, H, W, C), got shape {x.shape}")
    return scale_pixels(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))


def scale_pixels(x: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> float32 in [-1, 1] via ``x / 127.5 - 1``, in any layout.

    0 maps to exactly -1 and 255 to exactly 1 (127.5 is exact in float32), so the Fashion-MNIST
    zero pad is exactly -1 as in the paper. The one place this scaling is written: the model input
    and the exported ONNX graph (core.export), which takes raw pixels, both go through it.
    """
    out = x.to(torch.float32)
    return out.div_(127.5).sub_(1.0)


def as_model_input(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Accept uint8 images (N, H, W, C) as datasets give them, or a model-ready float tensor."""
    if isinstance(x, np.ndarray):
        if x.dtype != np.uint8:
            raise TypeError(f"numpy images must be uint8 (N, H, W, C), got {x.dtype}")
        return to_model_input(x)
    if not torch.is_floating_point(x) or x.ndim != 4:
        raise TypeError("tensor images must be float (N, C, H, W) scaled to [-1, 1]")
    return x


def split_per_class(y: np.ndarray, num_classes: int,
                    cut: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) indices: each class shuffled with ``np.random.default_rng(0)``, then ``cut``.

    One generator runs through the classes in label order, so a split depends only on the labels;
    ``cut`` receives a class's shuffled indices and says which go to training and which to test
    (each source keeps its own proportions).
    """
    rng = np.random.default_rng(0)
    train, test = [], []
    for label in range(num_classes):
        idx = np.flatnonzero(y == label)
        tr, te = cut(idx[rng.permutation(len(idx))])
        train.append(tr)
        test.append(te)
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))
