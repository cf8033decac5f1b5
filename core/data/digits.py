"""scikit-learn's bundled 8x8 digits, so something always works offline (the app and tests included)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.data.dataset import ImageDataset
from core.data.mnist import MNIST_CLASSES
from core.data.records import DatasetRecord, register


def _load(record: DatasetRecord, root: Path, download: bool) -> ImageDataset:
    """0..16 -> 0..255, bilinear-upsampled to 32x32; stratified 80/20 split with ``random_state=0``."""
    del root, download
    from PIL import Image
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    small = np.clip(np.rint(bunch.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    side = (record.image_size, record.image_size)
    big = np.stack([np.asarray(Image.fromarray(im).resize(side, Image.Resampling.BILINEAR)) for im in small])[..., None]
    y = bunch.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(big, y, test_size=0.2, stratify=y, random_state=0)
    return ImageDataset(record.name, xtr, ytr, xte, yte, record.class_names)


DIGITS = register(DatasetRecord(
    name="digits", title="digits (8x8)", class_names=MNIST_CLASSES, loader=_load, layout="", grey=True,
    image_size=32, upload="digits8",
))
