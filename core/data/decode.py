"""Find image files and decode them to uint8 arrays at model resolution.

:func:`fit_square` is the one resize rule of the project: training images decoded here and
uploads prepared by :mod:`core.images` both go through it, so a detector sees an upload the way
it saw its training images.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.bitdepth import to_8bit
from core.data.dataset import DataError, short_error

IMAGE_EXTENSIONS: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"})
UNREADABLE = (OSError, UnidentifiedImageError, ValueError, SyntaxError)
"""What PIL raises on a file that is not a readable image."""


def fit_square(img: Image.Image, size: int) -> Image.Image:
    """Scale the shorter side to ``size`` and centre-crop to size x size.

    Non-square images are never squeezed (the authors' code does this for Cats-vs-Dogs). Shrinking
    uses BOX (area-like) filtering, enlarging bilinear.
    """
    if img.size == (size, size):
        return img
    shrink = min(img.size) >= size
    method = Image.Resampling.BOX if shrink else Image.Resampling.BILINEAR
    return ImageOps.fit(img, (size, size), method=method)


def decode(path: str, mode: str, size: int | None) -> np.ndarray:
    """Decode one image to uint8 (H, W, C) in ``mode`` ("RGB" or "L"), fitted to size x size.

    16-bit and other high-bit-depth greyscale is scaled to 8 bits first (:func:`core.bitdepth.to_8bit`,
    the rule uploads follow too): PIL's ``convert`` alone would clip it to near-binary images.
    """
    with Image.open(path) as img:
        img = to_8bit(img).convert(mode)
        if size is not None:
            img = fit_square(img, size)
        arr = np.asarray(img, dtype=np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr


def decode_many(paths: Sequence[str], mode: str, size: int | None, skip_bad: bool) -> tuple[np.ndarray, list[int]]:
    """Decode images in a plain loop; returns (stack, indices of the paths that decoded).

    A plain loop, not a thread pool: the per-file work is mostly Python overhead under the GIL, so
    threads made it slower when measured on a 2-core machine.
    """
    images: list[np.ndarray] = []
    kept: list[int] = []
    for i, path in enumerate(paths):
        try:
            images.append(decode(path, mode, size))
        except UNREADABLE as err:
            if not skip_bad:
                raise DataError(f"could not decode image {path}: {short_error(err)}") from err
            warnings.warn(f"skipping unreadable image {path}: {short_error(err)}", stacklevel=2)
            continue
        kept.append(i)
    if not images:
        channels = 1 if mode == "L" else 3
        return np.zeros((0, size or 0, size or 0, channels), np.uint8), kept
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise DataError(f"images have different sizes {sorted(shapes)[:4]}; expected all the same")
    return np.stack(images), kept


def image_files(folder: Path | str) -> list[str]:
    """Paths (plain strings) of the image files directly inside folder.

    Strings and os.scandir, not pathlib: for tens of thousands of files, building Path objects costs
    more than reading the cached arrays.
    """
    with os.scandir(folder) as it:
        return [
            e.path for e in it
            if not e.name.startswith(".") and os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS and e.is_file()
        ]


def image_files_under(folder: Path | str) -> list[str]:
    """Paths of the image files anywhere under ``folder`` (by extension), sorted; hidden files and
    folders are skipped, as :func:`image_files` skips them."""
    found: list[str] = []
    for root, dirs, _files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(image_files(root))
    return sorted(found)


def list_class_tree(split_dir: Path) -> list[tuple[str, list[str]]]:
    """Sorted (class folder, image files) pairs under split_dir; empty class folders are dropped."""
    out = []
    for sub in sorted(p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = image_files(sub)
        if files:
            out.append((sub.name, files))
    return out


def leading_int(name: str) -> int | None:
    """The first number in a file name without its extension (``cat.123.jpg`` -> 123)."""
    m = re.search(r"\d+", os.path.splitext(name)[0])
    return int(m.group()) if m else None


def number_then_name(path: str) -> tuple[bool, int, str]:
    """Sort key: files with a number first, by number, then by name."""
    name = os.path.basename(path)
    n = leading_int(name)
    return (n is None, n or 0, name)


def relative(path: str, root: Path) -> str:
    """path relative to root, for cache keys (cheap string work, no pathlib)."""
    return os.path.relpath(path, root) if not path.startswith(str(root) + os.sep) else path[len(str(root)) + 1:]
