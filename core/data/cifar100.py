"""CIFAR-100 with the 20 coarse superclasses the paper uses, from ``<data_dir>/cifar100/{train,test}.npz``
(laid out by ``shared/tools/get_cifar100``) or torchvision's ``<data_dir>/cifar-100-python`` pickles."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.data.dataset import DataError, ImageDataset, short_error
from core.data.download import read_pickled_splits, torchvision_attempt
from core.data.records import DatasetRecord, register

CIFAR100_COARSE_CLASSES: tuple[str, ...] = (
    "aquatic mammals", "fish", "flowers", "food containers", "fruit and vegetables",
    "household electrical devices", "household furniture", "insects", "large carnivores",
    "large man-made outdoor things", "large natural outdoor scenes", "large omnivores and herbivores",
    "medium-sized mammals", "non-insect invertebrates", "people", "reptiles", "small mammals", "trees",
    "vehicles 1", "vehicles 2",
)
# CIFAR-100 fine label id (0..99, fine names in alphabetical order: apple, aquarium_fish, baby, ...)
# -> coarse superclass id (0..19, the order of CIFAR100_COARSE_CLASSES). This is the fixed mapping
# from the dataset's own "coarse_labels" field; torchvision only exposes fine labels.
CIFAR100_FINE_TO_COARSE: tuple[int, ...] = (
    4, 1, 14, 8, 0, 6, 7, 7, 18, 3,
    3, 14, 9, 18, 7, 11, 3, 9, 7, 11,
    6, 11, 5, 10, 7, 6, 13, 15, 3, 15,
    0, 11, 1, 10, 12, 14, 16, 9, 11, 5,
    5, 19, 8, 8, 15, 13, 14, 17, 18, 10,
    16, 4, 17, 4, 2, 0, 17, 4, 18, 17,
    10, 3, 2, 12, 12, 16, 12, 1, 9, 19,
    2, 10, 0, 1, 16, 12, 9, 13, 15, 13,
    16, 19, 2, 4, 6, 19, 5, 5, 8, 19,
    18, 1, 2, 15, 6, 0, 17, 8, 14, 13,
)

def _load(record: DatasetRecord, root: Path, download: bool) -> ImageDataset:
    """CIFAR-100 with its 20 coarse superclasses (as in the paper), from either of two layouts.

    ``cifar100/{train,test}.npz`` (what ``shared/tools/get_cifar100`` lays out: ``x`` uint8
    N x 32 x 32 x 3, ``fine`` 0-99, ``coarse`` 0-19) is read first, since it needs no network;
    else torchvision's ``cifar-100-python`` pickles, downloaded where the network allows.
    """
    npz_dir = root / "cifar100"
    if (npz_dir / "train.npz").is_file() or (npz_dir / "test.npz").is_file():
        train, test = (_read_npz(npz_dir / f"{split}.npz") for split in ("train", "test"))
        return ImageDataset(record.name, *train, *test, record.class_names)
    import torchvision.datasets as tvd

    pickles = root / "cifar-100-python"
    if not (pickles / "train").is_file() or not (pickles / "test").is_file():
        torchvision_attempt(
            "CIFAR-100", f"{npz_dir}/{{train,test}}.npz or {pickles}/{{train,test}}", root, download,
            lambda dl: tvd.CIFAR100(root=str(root), train=True, download=dl),
        )
    tr, te = read_pickled_splits(tvd.CIFAR100, "CIFAR-100", root, pickles)
    coarse = np.asarray(CIFAR100_FINE_TO_COARSE, dtype=np.int64)
    return ImageDataset(
        record.name, np.asarray(tr.data, np.uint8), coarse[np.asarray(tr.targets)],
        np.asarray(te.data, np.uint8), coarse[np.asarray(te.targets)], record.class_names,
    )


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(x, coarse labels) from one split file, refusing anything that is not CIFAR-100 as laid out.

    Where the file also holds fine labels, the coarse ones must be their superclasses: a file
    whose two label columns disagree has been shuffled or built wrongly, and training on it would
    quietly mix classes.
    """
    def refuse(what: str) -> DataError:
        return DataError(f"{path} is not a CIFAR-100 split as expected: {what}. Lay it out again with "
                         f"shared/tools/get_cifar100 (see shared/data/README.md) or remove it to use "
                         f"torchvision's cifar-100-python/ instead.")

    if not path.is_file():
        raise refuse("the file is missing (train.npz and test.npz belong together)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as err:
        raise refuse(f"it could not be read ({short_error(err)})") from err
    if "x" not in arrays or "coarse" not in arrays:
        raise refuse(f"it needs arrays 'x' and 'coarse' (and optionally 'fine'); found {sorted(arrays)}")
    x, coarse = arrays["x"], arrays["coarse"]
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (32, 32, 3):
        raise refuse(f"'x' must be uint8 N x 32 x 32 x 3, got {x.dtype} {x.shape}")
    if coarse.shape != (len(x),) or not np.issubdtype(coarse.dtype, np.integer):
        raise refuse(f"'coarse' must be {len(x)} integer labels, got {coarse.dtype} {coarse.shape}")
    if len(coarse) and (coarse.min() < 0 or coarse.max() >= len(CIFAR100_COARSE_CLASSES)):
        raise refuse(f"'coarse' labels must lie in 0-19, found {coarse.min()}-{coarse.max()}")
    if "fine" in arrays:
        fine = arrays["fine"]
        if fine.shape != coarse.shape or not np.issubdtype(fine.dtype, np.integer) or (
                len(fine) and (fine.min() < 0 or fine.max() >= len(CIFAR100_FINE_TO_COARSE))):
            raise refuse(f"'fine' must be {len(x)} integer labels in 0-99, got {fine.dtype} {fine.shape}")
        mismatched = int((np.asarray(CIFAR100_FINE_TO_COARSE)[fine] != coarse).sum())
        if mismatched:
            raise refuse(f"{mismatched} 'coarse' labels are not the superclass of their 'fine' label")
    return x, coarse.astype(np.int64)


CIFAR100 = register(DatasetRecord(
    name="cifar100", title="CIFAR-100 (20 superclasses)", class_names=CIFAR100_COARSE_CLASSES, loader=_load,
    layout="cifar100/{train,test}.npz or cifar-100-python/", grey=False, image_size=32, aliases=("cifar_100",),
))
