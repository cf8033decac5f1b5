"""The geometric transforms whose recognition GEOM learns.

A transform is a tuple ``(flip, shift_rows, shift_cols, rot)`` applied in that order: horizontal
flip, then translation with half-sample-symmetric reflection of the exposed pixels, then rotation by
``rot * 90`` degrees counter-clockwise. Output pixel ``[r, c] = input[r + shift_rows, c + shift_cols]``
(a positive shift moves the content up / left), exactly as the authors' Keras code did.

Every such transform only moves pixels, so each one is a fixed permutation-with-repeats of the H*W
pixel positions. We precompute that source index map once per image size; applying any mix of
transforms to a batch is then a single ``gather`` on whatever device the batch lives on, which
keeps the self-labelled training set virtual (it is never materialised).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import torch


class Transform(NamedTuple):
    """One geometric transform; see the module docstring for the convention."""

    flip: bool
    shift_rows: int
    shift_cols: int
    rot: int

    @property
    def name(self) -> str:
        """A short label for plot axes, naming where the content moves (e.g. ``flip up8 rot90``)."""
        parts = []
        if self.flip:
            parts.append("flip")
        if self.shift_rows:
            parts.append(f"{'up' if self.shift_rows > 0 else 'down'}{abs(self.shift_rows)}")
        if self.shift_cols:
            parts.append(f"{'left' if self.shift_cols > 0 else 'right'}{abs(self.shift_cols)}")
        if self.rot % 4:
            parts.append(f"rot{90 * (self.rot % 4)}")
        return " ".join(parts) or "id"

    @classmethod
    def from_name(cls, name: str) -> Transform:
        """The transform :attr:`name` gives this name (``flip up8 rot90``), so a config can list
        transforms by the names people read on the explorer's axes; ValueError for any other text."""
        words = name.split()
        flip = bool(words) and words[0] == "flip"
        shifts, rot = {"up": 0, "down": 0, "left": 0, "right": 0}, 0
        for word in words[flip:] if words != ["id"] else []:
            match = _NAME_WORD.fullmatch(word)
            if match is None:
                raise ValueError(f"{name!r} is not a transform name (e.g. id, flip, up8, flip left8 rot90)")
            if match["rot"]:
                rot = int(match["rot"]) // 90
            else:
                shifts[match["dir"]] = int(match["px"])
        t = cls(flip, shifts["up"] - shifts["down"], shifts["left"] - shifts["right"], rot)
        if t.name != " ".join(words):  # one spelling per transform: no repeats, no reordering
            raise ValueError(f"{name!r} is not a transform name; this transform is written {t.name!r}")
        return t

    def source_matrix(self) -> np.ndarray:
        """(3, 3) integer affine map from an output pixel to the input pixel it copies, in coordinates
        centred on the image (row, column, 1), ignoring the reflection at the borders.

        Composing these instead of the pixel maps makes the relation between two transforms a matter
        of integer algebra, exact and independent of the image size (see :func:`relation`).
        """
        flip = np.diag([1, -1 if self.flip else 1, 1])
        shift = np.array([[1, 0, self.shift_rows], [0, 1, self.shift_cols], [0, 0, 1]])
        return flip @ shift @ np.linalg.matrix_power(_ROT90, self.rot % 4)

    @classmethod
    def from_source_matrix(cls, m: np.ndarray) -> Transform:
        """The transform whose :meth:`source_matrix` is ``m`` (every such map is one: flip, shift, rotation)."""
        flip = bool(round(np.linalg.det(m[:2, :2])) < 0)
        unflipped = np.diag([1, -1 if flip else 1, 1]) @ m  # = shift @ rot^k
        rot = next(k for k in range(4) if np.array_equal(unflipped[:2, :2], np.linalg.matrix_power(_ROT90, k)[:2, :2]))
        shift = unflipped @ np.linalg.matrix_power(_ROT90, (4 - rot) % 4)
        return cls(flip, int(shift[0, 2]), int(shift[1, 2]), rot)


_NAME_WORD = re.compile(r"(?P<dir>up|down|left|right)(?P<px>[1-9]\d*)|rot(?P<rot>90|180|270)")
# np.rot90 turns content counter-clockwise: output [r, c] copies input [c, -r] (centred coordinates).
_ROT90 = np.array([[0, 1, 0], [-1, 0, 0], [0, 0, 1]])


@lru_cache(maxsize=8192)  # a page asks for all k x k pairs of a set
def relation(a: Transform, b: Transform) -> Transform:
    """The transform R with T_b(x) = T_a(R(x)): what a class must be invariant to (x looking like
    R(x)) for the classifier to take T_b(x) for T_a(x).

    Example: for ``up8 rot270`` and ``flip down8 rot90`` it is ``flip rot180``, a flip and a half
    turn, under which a '1' looks the same. Computed from the transforms' parameters (their source
    maps compose: ``source(b) = source(R) @ source(a)``), not looked up.
    """
    return Transform.from_source_matrix(b.source_matrix() @ np.linalg.inv(a.source_matrix()).round().astype(int))


def paper_shift(image_size: int) -> int:
    """The paper's translation: a quarter of the side (8 px at 32x32, 16 px at 64x64)."""
    return image_size // 4


def symmetric_index(positions: np.ndarray, size: int) -> np.ndarray:
    """Map out-of-range positions back inside by half-sample-symmetric reflection.

    This is numpy.pad(mode='symmetric') / scipy.ndimage mode='reflect': the edge pixel is repeated
    (..., 1, 0, 0, 1, ...), unlike torch's 'reflect' padding which skips it.
    """
    period = 2 * size
    p = np.mod(positions, period)
    return np.where(p < size, p, period - 1 - p)


def apply_numpy(image: np.ndarray, t: Transform) -> np.ndarray:
    """Apply one transform to an (H, W, ...) array; the readable definition the fast path must match."""
    h, w = image.shape[:2]
    out = image[:, ::-1] if t.flip else image
    rows = symmetric_index(np.arange(h) + t.shift_rows, h)
    cols = symmetric_index(np.arange(w) + t.shift_cols, w)
    out = out[rows][:, cols]
    return np.rot90(out, t.rot % 4, axes=(0, 1))


@dataclass(frozen=True)
class TransformSet:
    """An ordered list of transforms; a transform's position is its class label."""

    transforms: tuple[Transform, ...]
    name: str = "custom"

    def __post_init__(self) -> None:
        if not self.transforms:
            raise ValueError("a TransformSet needs at least one transform")
        if len(set(self.transforms)) != len(self.transforms):
            raise ValueError("a TransformSet cannot contain the same transform twice")

    # ----- named sets -------------------------------------------------------------------------
    @classmethod
    def paper(cls, image_size: int = 32) -> TransformSet:
        """The 72 transforms in the authors' index order: 36*flip + 12*i + 4*j + k, identity first."""
        s = paper_shift(image_size)
        shifts = (0, -s, s)
        return cls(
            tuple(
                Transform(bool(f), di, dj, k)
                for f in (0, 1)
                for di in shifts
                for dj in shifts
                for k in range(4)
            ),
            name="paper72",
        )

    @classmethod
    def flip(cls) -> TransformSet:
        """Identity and horizontal flip (the paper's Section 6 flip ablation)."""
        return cls((Transform(False, 0, 0, 0), Transform(True, 0, 0, 0)), name="flip")

    @classmethod
    def translate(cls, pixels: int = 7) -> TransformSet:
        """Identity and a horizontal translation by ``pixels`` (Section 6 uses 7 px on MNIST)."""
        return cls((Transform(False, 0, 0, 0), Transform(False, 0, pixels, 0)), name=f"translate{pixels}")

    @classmethod
    def rotations(cls) -> TransformSet:
        """The four rotations by multiples of 90 degrees."""
        return cls(tuple(Transform(False, 0, 0, k) for k in range(4)), name="rot4")

    @classmethod
    def flip_rotations(cls) -> TransformSet:
        """Flip x 4 rotations (8): the set behind the paper's Figure 1 gradient-ascent demo."""
        return cls(
            tuple(Transform(bool(f), 0, 0, k) for f in (0, 1) for k in range(4)), name="flip_rot8"
        )

    @classmethod
    def custom(cls, transforms: Iterable[Sequence[int]], name: str = "custom") -> TransformSet:
        """Any list of (flip, shift_rows, shift_cols, rot) tuples."""
        return cls(tuple(Transform(bool(f), int(r), int(c), int(k) % 4) for f, r, c, k in transforms), name)

    @classmethod
    def by_name(cls, name: str, image_size: int = 32) -> TransformSet:
        """Look a set up by the name used in configs and on the command line (see :data:`TRANSFORM_SETS`),
        or build it from a list of transform names (see :attr:`spec`)."""
        if LIST_SEPARATOR in name:
            return cls(tuple(Transform.from_name(n) for n in name.split(LIST_SEPARATOR)), name="custom")
        named = TRANSFORM_SETS.get(name)
        if named is not None and named.build is not None:
            return named.build(image_size)
        if name.startswith(TRANSLATE) and name[len(TRANSLATE):].isdigit():
            return cls.translate(int(name[len(TRANSLATE):]))
        raise ValueError(
            f"unknown transform set {name!r}; choose one of {', '.join(TRANSFORM_SET_NAMES)} "
            "(translateN for any N pixels)"
        )

    # ----- use ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.transforms)

    def __getitem__(self, i: int) -> Transform:
        return self.transforms[i]

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.transforms]

    @property
    def spec(self) -> str:
        """What a config stores to rebuild this set with :meth:`by_name`: a named set's name, else its
        transforms' names joined by :data:`LIST_SEPARATOR` (readable in run.json)."""
        if self.name in TRANSFORM_SETS or self.name.startswith(TRANSLATE):
            return self.name
        return f"{LIST_SEPARATOR} ".join(self.names)

    def as_lists(self) -> list[list[int]]:
        """A JSON-friendly form, stored in configs and checkpoints."""
        return [[int(t.flip), t.shift_rows, t.shift_cols, t.rot] for t in self.transforms]

    def index_maps(self, height: int, width: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """(k, H*W) source pixel index of every output pixel, for each transform."""
        return _index_maps(self.transforms, height, width).to(device)

    def apply(self, x: torch.Tensor, labels: torch.Tensor | int) -> torch.Tensor:
        """Apply transform ``labels[n]`` to image ``x[n]`` of an (N, C, H, W) batch, on x's device.

        Rotations by 90/270 degrees swap H and W, so non-square images are only supported by sets
        without odd rotations.
        """
        n, c, h, w = x.shape
        maps = self.index_maps(h, w, x.device)
        if isinstance(labels, int):
            labels = torch.full((n,), labels, dtype=torch.long, device=x.device)
        idx = maps[labels.to(x.device)]  # (N, H*W)
        flat = x.reshape(n, c, h * w)
        out = torch.gather(flat, 2, idx.unsqueeze(1).expand(n, c, h * w))
        return out.reshape(n, c, h, w)

    def apply_all(self, x: torch.Tensor) -> torch.Tensor:
        """Every transform of every image: (N, C, H, W) -> (N * k, C, H, W), image-major.

        Row ``n * k + t`` is transform t of image n, so ``.view(N, k, ...)`` recovers the pairs.
        """
        n, c, h, w = x.shape
        k = len(self)
        maps = self.index_maps(h, w, x.device)  # (k, HW)
        flat = x.reshape(n, 1, c, h * w).expand(n, k, c, h * w)
        idx = maps.view(1, k, 1, h * w).expand(n, k, c, h * w)
        return torch.gather(flat, 3, idx).reshape(n * k, c, h, w)


class NamedSet(NamedTuple):
    """A transform set that configs and the command line name."""

    description: str  # for people choosing one (the ablation page lists these)
    build: Callable[[int], TransformSet] | None  # image side in pixels -> the set; None: the name takes a number


TRANSLATE = "translate"
"""The one family with a parameter: ``translate<N>`` shifts by N pixels."""

TRANSFORM_SETS: dict[str, NamedSet] = {
    "paper72": NamedSet("the paper's 72: flip × 3×3 translations × 4 rotations", TransformSet.paper),
    "flip": NamedSet("identity + horizontal flip", lambda _size: TransformSet.flip()),
    TRANSLATE: NamedSet("identity + horizontal translation", None),
    "rot4": NamedSet("4 rotations", lambda _size: TransformSet.rotations()),
    "flip_rot8": NamedSet("flip × 4 rotations", lambda _size: TransformSet.flip_rotations()),
}
"""Every named set, in the order they are offered: the one place their names are declared."""

TRANSFORM_SET_NAMES: tuple[str, ...] = tuple(f"{n}N" if n == TRANSLATE else n for n in TRANSFORM_SETS)
"""The names as users write them (``translateN`` for any N)."""

LIST_SEPARATOR = ","
"""Separates transform names in a set given as a list (``id, rot90, flip rot180``); no name holds one."""


def spec_tag(spec: str) -> str:
    """A short folder-safe stand-in for a config's ``transforms``: a set name as it is, a list as its
    length and a hash of it (``36-1f2e3d4c``), so a run folder's name stays short."""
    if LIST_SEPARATOR not in spec:
        return spec
    return f"{spec.count(LIST_SEPARATOR) + 1}-{hashlib.sha1(spec.encode()).hexdigest()[:8]}"


@lru_cache(maxsize=64)
def _index_maps(transforms: tuple[Transform, ...], height: int, width: int) -> torch.Tensor:
    """Cached across calls, so built as an ordinary tensor even when first asked for under
    ``torch.inference_mode`` (scoring): an inference tensor could never again serve a pass that
    autograd records (gradient ascent, attributions)."""
    grid = np.arange(height * width).reshape(height, width)
    maps = [np.ascontiguousarray(apply_numpy(grid, t)).reshape(-1) for t in transforms]
    with torch.inference_mode(False):
        return torch.from_numpy(np.stack(maps)).long()
