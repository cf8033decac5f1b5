"""``folder:PATH``: any tree of class sub-folders, with or without train/ and test/ sub-trees."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.data.cache import cache_key, cache_load, cache_save
from core.data.dataset import DataError, ImageDataset, short_error, split_per_class
from core.data.decode import UNREADABLE, decode_many, image_files, list_class_tree, number_then_name, relative
from core.data.records import FOLDER_PREFIX

# Folder datasets smaller than this decode in well under a second; caching them would only
# litter the cache directory (tests build many tiny trees).
_FOLDER_CACHE_MIN_FILES = 1000


def _layout_hint(path: Path) -> str:
    return (
        f"expected {path}/<class>/<image>.png|jpg|jpeg|bmp|gif|webp (one sub-folder per class), "
        f"or {path}/train/<class>/... and {path}/test/<class>/..., or {path}/<image>... (one normal class)"
    )


def _fifth_for_test(perm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """80/20, with at least one test image for any class of two or more."""
    n_test = int(round(0.2 * len(perm)))
    if len(perm) >= 2:
        n_test = max(1, n_test)
    return perm[n_test:], perm[:n_test]


def _flat_folder(path: Path) -> list[tuple[str, list[str]]]:
    """A folder of images with no class sub-folders is one class, named after the folder.

    That is how normal-only data usually arrives (a folder of good parts): it trains a detector,
    with no anomalies to evaluate it on.
    """
    files = image_files(path)
    return [(path.resolve().name, files)] if files else []


def load_folder(path: Path) -> ImageDataset:
    """Any tree of class sub-folders, with or without train/ and test/ sub-trees, or a flat folder
    of images (one class).

    Without a split, each class is split 80/20 with ``np.random.default_rng(0)``. Images become
    greyscale (L) when every image is greyscale, else RGB, and 64x64 when the median shorter side
    is at least 64, else 32x32. Unreadable files are skipped with a warning naming them.
    """
    if not path.exists():
        raise DataError(f"folder {path} does not exist; {_layout_hint(path)}")
    if not path.is_dir():
        raise DataError(f"{path} is not a folder; {_layout_hint(path)}")
    has_split = (path / "train").is_dir() and (path / "test").is_dir()
    if has_split:
        trees = {s: list_class_tree(path / s) for s in ("train", "test")}
        class_names = tuple(sorted({c for t in trees.values() for c, _ in t}))
        missing_test = sorted({c for c, _ in trees["train"]} - {c for c, _ in trees["test"]})
        if missing_test:
            warnings.warn(f"{path}: classes {missing_test} have no test images", stacklevel=3)
    else:
        trees = {"all": list_class_tree(path) or _flat_folder(path)}
        class_names = tuple(c for c, _ in trees["all"])
    if not class_names:
        raise DataError(f"no class sub-folders with images, and no images, in {path}; {_layout_hint(path)}")
    if has_split and not any(files for _, files in trees["train"]):
        raise DataError(f"no training images in {path / 'train'}; {_layout_hint(path)}")

    # One flat list of (split, label, path) in a fixed order: class name, then number, then name.
    entries: list[tuple[str, int, str]] = []
    for split, tree in trees.items():
        for cname, files in tree:
            files = sorted(files, key=number_then_name)
            entries += [(split, class_names.index(cname), p) for p in files]
    paths = [p for _, _, p in entries]

    stats = [(st.st_size, st.st_mtime_ns) for st in map(os.stat, paths)]  # edits invalidate the cache
    key = cache_key(str(path.resolve()), [relative(p, path) for p in paths], stats)
    use_cache = len(paths) >= _FOLDER_CACHE_MIN_FILES
    cached = cache_load("folder", key) if use_cache else None
    if cached is None:
        mode, size, readable = _probe_images(paths)
        if not readable:
            raise DataError(f"no readable images in {path}; {_layout_hint(path)}")
        sub = [paths[i] for i in readable]
        x, kept = decode_many(sub, mode, size, skip_bad=True)
        keep = np.asarray([readable[k] for k in kept], dtype=np.int64)
        cached = {"x": x, "keep": keep}
        if use_cache:
            cache_save("folder", key, cached)
    x, keep = cached["x"], cached["keep"]
    if len(keep) == 0:
        raise DataError(f"no readable images in {path}; {_layout_hint(path)}")
    split_of = np.array([entries[i][0] for i in keep])
    y = np.array([entries[i][1] for i in keep], dtype=np.int64)

    if has_split:
        tr, te = np.flatnonzero(split_of == "train"), np.flatnonzero(split_of == "test")
    else:
        tr, te = split_per_class(y, len(class_names), _fifth_for_test)
    return ImageDataset(FOLDER_PREFIX + str(path.resolve()), x[tr], y[tr], x[te], y[te], class_names)


def _probe_images(paths: Sequence[str]) -> tuple[str, int, list[int]]:
    """Read only the headers: pick the mode (L if all greyscale) and size; drop unreadable files."""
    from PIL import Image

    from core.bitdepth import WIDE_GREY_MODES

    grey_modes = {"1", "L", "LA"} | WIDE_GREY_MODES
    readable: list[int] = []
    sides: list[int] = []
    all_grey = True
    for i, p in enumerate(paths):
        try:
            with Image.open(p) as img:
                sides.append(min(img.size))
                all_grey &= img.mode in grey_modes
        except UNREADABLE as err:
            warnings.warn(f"skipping unreadable image {p}: {short_error(err)}", stacklevel=3)
            continue
        readable.append(i)
    size = 64 if sides and float(np.median(sides)) >= 64 else 32
    return ("L" if all_grey else "RGB"), size, readable
