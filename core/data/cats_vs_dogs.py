"""Kaggle's Cats-vs-Dogs: the flat ``<data_dir>/cats_vs_dogs/train/{cat,dog}.<N>.jpg`` (or Microsoft's
PetImages), at 64x64 RGB. There is no official download, so a missing copy says where to get it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from core.data.cache import cache_key, cache_load, cache_save
from core.data.dataset import DataError, ImageDataset, split_per_class
from core.data.decode import decode_many, image_files, leading_int, relative
from core.data.records import DatasetRecord, register

CATS_VS_DOGS_CLASSES: tuple[str, ...] = ("cat", "dog")
_CATDOG_RE = re.compile(r"^(cat|dog)\.(\d+)\.(jpe?g|png)$", re.IGNORECASE)
# The paper's split per class: 10,000 train and 2,500 test images (of Kaggle's 12,500).
_PAPER_TRAIN, _PAPER_TEST = 10_000, 2_500


def _find(root: Path) -> tuple[Path, list[tuple[int, int, str]]] | None:
    """(source folder, [(label, number, path)]) from the first layout that has images."""
    for folder in (root / "cats_vs_dogs" / "train", root / "cats_vs_dogs"):
        if folder.is_dir():
            found = []
            for p in image_files(folder):
                m = _CATDOG_RE.match(os.path.basename(p))
                if m:
                    found.append((CATS_VS_DOGS_CLASSES.index(m.group(1).lower()), int(m.group(2)), p))
            if found:
                return folder, found
    for pet in (root / "cats_vs_dogs" / "PetImages", root / "PetImages"):
        if (pet / "Cat").is_dir() and (pet / "Dog").is_dir():
            found = []
            for label, sub in enumerate(("Cat", "Dog")):
                for p in image_files(pet / sub):
                    n = leading_int(os.path.basename(p))
                    found.append((label, n if n is not None else -1, p))
            if found:
                return pet, found
    return None


def _paper_cut(perm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The paper's 10,000 / 2,500 where a class has that many (any extra left out), else 80/20."""
    if len(perm) >= _PAPER_TRAIN + _PAPER_TEST:
        n_train, n_test = _PAPER_TRAIN, _PAPER_TEST
    else:
        n_test = int(round(0.2 * len(perm)))
        n_train = len(perm) - n_test
    return perm[:n_train], perm[n_train:n_train + n_test]


def _load(record: DatasetRecord, root: Path, download: bool) -> ImageDataset:
    """Split per class with ``np.random.default_rng(0)`` (:func:`_paper_cut`); labels cat 0, dog 1.

    Files are ordered by (class, number) before the split, so the split depends only on the set
    of files. A class with fewer than 12,500 images (e.g. Microsoft's PetImages after its
    unreadable files are skipped) is split 80/20.
    """
    del download  # there is no official download source for this set
    found = _find(root)
    if found is None:
        raise DataError(
            f"Cats-vs-Dogs not found in {root} (looked for {root / 'cats_vs_dogs' / 'train'}/{{cat,dog}}.<N>.jpg, "
            f"{root / 'cats_vs_dogs'}/{{cat,dog}}.<N>.jpg and PetImages/{{Cat,Dog}}) and there is no download for it. "
            f"Get Kaggle's 'Dogs vs. Cats' train.zip and unpack it as cats_vs_dogs/train/, then set GEOM_DATA_DIR "
            f"or pass --data-dir to the folder that holds cats_vs_dogs/."
        )
    source, items = found
    items.sort(key=lambda it: (it[0], it[1], os.path.basename(it[2])))
    paths = [p for _, _, p in items]
    labels = np.array([lab for lab, _, _ in items], dtype=np.int64)
    key = cache_key(str(source.resolve()), [relative(p, source) for p in paths])
    cached = cache_load(record.name, key)
    if cached is None:
        x, kept = decode_many(paths, record.mode, record.image_size, skip_bad=True)
        cached = {"x": x, "y": labels[kept]}
        cache_save(record.name, key, cached)
    x, y = cached["x"], cached["y"]
    tr, te = split_per_class(y, len(record.class_names), _paper_cut)
    return ImageDataset(record.name, x[tr], y[tr], x[te], y[te], record.class_names)


CATS_VS_DOGS = register(DatasetRecord(
    name="cats_vs_dogs", title="Cats-vs-Dogs", class_names=CATS_VS_DOGS_CLASSES, loader=_load,
    layout="cats_vs_dogs/train/{cat,dog}.<N>.jpg", grey=False, image_size=64, aliases=("catsvsdogs", "cats_dogs"),
))
