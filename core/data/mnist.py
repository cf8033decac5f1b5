"""MNIST and Fashion-MNIST: torchvision's raw idx files, ``<data_dir>/{MNIST,FashionMNIST}/raw``.

Both are 28x28 greyscale, zero-padded to 32x32 on the uint8 pixels as in the paper.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from core.data.dataset import DataError, ImageDataset, short_error
from core.data.download import torchvision_attempt
from core.data.records import DatasetRecord, layout_hint, register

MNIST_CLASSES: tuple[str, ...] = tuple(str(i) for i in range(10))
# The standard Fashion-MNIST label order (label id -> name), as in zalandoresearch/fashion-mnist and
# torchvision. The paper's tables print the Fashion classes in alphabetical order (its appendix C,
# 0 Ankle-boot ... 9 Trouser); core.paper_tables maps those rows back to these label ids.
FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
_IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _load_idx(tv_name: str, record: DatasetRecord, root: Path, download: bool) -> ImageDataset:
    """One of torchvision's idx datasets (``tv_name``: its class and folder), padded 28 -> 32 with zeros."""
    import torchvision.datasets as tvd

    tv_cls = getattr(tvd, tv_name)
    raw = root / tv_name / "raw"
    missing = [raw / f for f in _IDX_FILES if not (raw / f).is_file()]
    if missing:
        torchvision_attempt(record.title, missing[0], root, download,
                            lambda dl: tv_cls(root=str(root), train=True, download=dl))
    splits = []
    for train in (True, False):
        try:
            ds = tv_cls(root=str(root), train=train, download=False)
        except Exception as err:
            raise DataError(f"{record.title} files in {raw} could not be read: {short_error(err)}. "
                            f"{layout_hint()}.") from err
        x = np.pad(ds.data.numpy().astype(np.uint8, copy=False), ((0, 0), (2, 2), (2, 2)), constant_values=0)[..., None]
        splits.append((x, ds.targets.numpy().astype(np.int64)))
    (xtr, ytr), (xte, yte) = splits
    return ImageDataset(record.name, xtr, ytr, xte, yte, record.class_names)


MNIST = register(DatasetRecord(
    name="mnist", title="MNIST", class_names=MNIST_CLASSES, loader=partial(_load_idx, "MNIST"),
    layout="MNIST/raw/train-images-idx3-ubyte (...)", grey=True, image_size=32, upload="pad28",
))
FASHION_MNIST = register(DatasetRecord(
    name="fashion_mnist", title="Fashion-MNIST", class_names=FASHION_MNIST_CLASSES,
    loader=partial(_load_idx, "FashionMNIST"), layout="FashionMNIST/raw/...", grey=True, image_size=32,
    upload="pad28", aliases=("fashionmnist",),
))
