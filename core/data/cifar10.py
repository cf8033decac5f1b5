"""CIFAR-10: an image-folder tree ``<data_dir>/cifar10/{train,test}/<class>/<index>.jpg`` (decoded
once, then cached), or torchvision's ``<data_dir>/cifar-10-batches-py`` pickles."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from core.data.cache import cache_key, cache_load, cache_save
from core.data.dataset import DataError, ImageDataset
from core.data.decode import decode_many, leading_int, list_class_tree, relative
from core.data.download import read_pickled_splits, torchvision_attempt
from core.data.records import DatasetRecord, register

CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)


def _ordered_split(tree: list[tuple[str, list[str]]]) -> tuple[list[str], np.ndarray]:
    """Order one split deterministically: by the integer in the file name when those are unique
    across the split (for the CIFAR-10 tree that is the original dataset order), else by
    (class, integer, name)."""
    items = [(leading_int(os.path.basename(p)), label, os.path.basename(p), p)
             for label, (_, files) in enumerate(tree) for p in files]
    ints = [it[0] for it in items]
    if None not in ints and len(set(ints)) == len(ints):
        items.sort(key=lambda it: it[0])
    else:
        items.sort(key=lambda it: (it[1], it[0] if it[0] is not None else -1, it[2]))
    return [it[3] for it in items], np.array([it[1] for it in items], dtype=np.int64)


def _load(record: DatasetRecord, root: Path, download: bool) -> ImageDataset:
    tree_root = root / "cifar10"
    if (tree_root / "train").is_dir() and (tree_root / "test").is_dir():
        return _load_tree(record, tree_root)
    pickles = root / "cifar-10-batches-py"
    import torchvision.datasets as tvd

    if not (pickles / "data_batch_1").is_file():
        torchvision_attempt(record.title, tree_root / "train", root, download,
                            lambda dl: tvd.CIFAR10(root=str(root), train=True, download=dl))
    tr, te = read_pickled_splits(tvd.CIFAR10, "CIFAR-10", root, pickles)
    return ImageDataset(
        record.name, np.asarray(tr.data, np.uint8), np.asarray(tr.targets, np.int64),
        np.asarray(te.data, np.uint8), np.asarray(te.targets, np.int64), record.class_names,
    )


def _load_tree(record: DatasetRecord, tree_root: Path) -> ImageDataset:
    splits = {s: list_class_tree(tree_root / s) for s in ("train", "test")}
    for split, tree in splits.items():
        names = tuple(c for c, _ in tree)
        if names != record.class_names:
            raise DataError(
                f"{tree_root / split} should hold the 10 CIFAR-10 class folders {', '.join(record.class_names)} "
                f"with images inside; found {list(names) or 'none'}"
            )
    ordered = {s: _ordered_split(t) for s, t in splits.items()}
    key = cache_key(str(tree_root.resolve()), {s: [relative(p, tree_root) for p in ordered[s][0]] for s in ordered})
    cached = cache_load(record.name, key)
    if cached is None:
        cached = {}
        for s, (paths, labels) in ordered.items():
            x, _ = decode_many(paths, record.mode, record.image_size, skip_bad=False)
            cached[f"x_{s}"], cached[f"y_{s}"] = x, labels
        cache_save(record.name, key, cached)
    return ImageDataset(record.name, cached["x_train"], cached["y_train"], cached["x_test"], cached["y_test"],
                        record.class_names)


CIFAR10 = register(DatasetRecord(
    name="cifar10", title="CIFAR-10", class_names=CIFAR10_CLASSES, loader=_load,
    layout="cifar10/{train,test}/<class>/<N>.jpg or cifar-10-batches-py/", grey=False, image_size=32,
    aliases=("cifar_10",),
))
