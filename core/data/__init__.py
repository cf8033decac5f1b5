"""Datasets: find, decode and cache the image sets GEOM is evaluated on.

Every loader returns the same thing, an :class:`ImageDataset` of uint8 arrays shaped
``(N, H, W, C)`` already at the model's input size (32x32, or 64x64 for Cats-vs-Dogs).

Each built-in set is one :class:`DatasetRecord` (name, title, class names, loader, file layout,
grey or colour, image size), declared in the module of its source; see ``shared/data/README.md``
for the copies shipped with the project:

* ``mnist``, ``fashion_mnist``: :mod:`core.data.mnist`
* ``cifar10``: :mod:`core.data.cifar10`
* ``cifar100``: :mod:`core.data.cifar100`
* ``cats_vs_dogs``: :mod:`core.data.cats_vs_dogs`
* ``digits``: :mod:`core.data.digits`, bundled with scikit-learn, so something always works offline
* ``folder:PATH``: :mod:`core.data.folder`, any tree of class sub-folders

Decoded JPEG sets are cached as ``.npz`` under :func:`cache_dir` (:mod:`core.data.cache`), and
:func:`load_dataset` memoises whole datasets in-process (here).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path

# The sources, imported in the order the app and the command line list them: importing one registers its records.
# isort: off
from core.data import mnist, cifar10, cifar100, cats_vs_dogs, digits  # noqa: F401
# isort: on
from core.data.cache import cache_dir
from core.data.cats_vs_dogs import CATS_VS_DOGS_CLASSES
from core.data.cifar10 import CIFAR10_CLASSES
from core.data.cifar100 import CIFAR100_COARSE_CLASSES, CIFAR100_FINE_TO_COARSE
from core.data.classes import parse_class
from core.data.dataset import (
    ClassNames,
    DataError,
    DatasetClasses,
    ImageDataset,
    as_model_input,
    scale_pixels,
    to_model_input,
)
from core.data.folder import load_folder
from core.data.mnist import FASHION_MNIST_CLASSES, MNIST_CLASSES
from core.data.records import FOLDER_PREFIX, RECORDS, DatasetRecord, canonical_name, find_record, valid_names_text

__all__ = [
    "DATASETS",
    "CATS_VS_DOGS_CLASSES",
    "CIFAR10_CLASSES",
    "CIFAR100_COARSE_CLASSES",
    "CIFAR100_FINE_TO_COARSE",
    "FASHION_MNIST_CLASSES",
    "MNIST_CLASSES",
    "RECORDS",
    "ClassNames",
    "DataError",
    "DatasetClasses",
    "DatasetRecord",
    "ImageDataset",
    "as_model_input",
    "cache_dir",
    "clear_memory_cache",
    "dataset_classes",
    "find_record",
    "load_dataset",
    "parse_class",
    "resolve_data_dir",
    "scale_pixels",
    "to_model_input",
]

DATASETS: tuple[str, ...] = tuple(RECORDS)
"""Registry names accepted by :func:`load_dataset`; ``"folder:PATH"`` is accepted as well."""


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where raw datasets live: explicit argument > env ``GEOM_DATA_DIR`` > ``~/.cache/geom/data``.

    The folder need not exist yet: a successful download creates it, a failed one leaves nothing
    behind (see :func:`core.data.download.torchvision_attempt`).
    """
    if data_dir is None or str(data_dir) == "":
        data_dir = os.environ.get("GEOM_DATA_DIR") or Path.home() / ".cache" / "geom" / "data"
    return Path(data_dir).expanduser().resolve()


def load_dataset(name: str, data_dir: str | os.PathLike[str] | None = None, download: bool = True) -> ImageDataset:
    """Load a dataset by registry name; memoised in-process per (name, resolved data_dir).

    The returned arrays are read-only, because the same object is handed to every caller (the app
    and the CLI call this repeatedly). Copy before modifying. ``load_dataset.cache_clear()``
    (alias :func:`clear_memory_cache`) drops the in-process memo; the on-disk ``.npz`` cache stays.
    """
    if not isinstance(name, str) or not name.strip():
        raise DataError(f"dataset name must be a non-empty string; valid names: {valid_names_text()}")
    canonical = canonical_name(name.strip())
    if canonical.lower().startswith(FOLDER_PREFIX):
        raw = canonical[len(FOLDER_PREFIX):].strip()
        if not raw:
            raise DataError("folder: needs a path, e.g. folder:/data/my_images (a folder of class sub-folders)")
        key: tuple[str, str | None] = (FOLDER_PREFIX + str(Path(raw).expanduser().resolve()), None)
    elif canonical in RECORDS:
        # a set bundled with a library (digits) is the same whatever the data folder
        key = (canonical, str(resolve_data_dir(data_dir)) if RECORDS[canonical].needs_data_dir else None)
    else:
        raise DataError(f"unknown dataset {name!r}; valid names: {valid_names_text()}")
    # One load at a time: two app sessions asking for the same set share one decode. `download`
    # is not part of the key: once loaded, the arrays are the same however they were obtained.
    with _MEMO_LOCK:
        if key in _MEMO:
            _MEMO.move_to_end(key)
            return _MEMO[key]
        ds = _load_uncached(key[0], key[1], download)
        _MEMO[key] = ds
        while len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)
        return ds


def dataset_classes(name: str, data_dir: str | os.PathLike[str] | None = None) -> ClassNames:
    """A dataset's name and classes, read from its registry record without its files where there is
    one: a sweep's driver may run where the data is not (its workers load it, :mod:`core.sweep`).
    A ``folder:`` set has no record, so it is loaded; an unknown name is load_dataset's DataError."""
    record = find_record(name) if isinstance(name, str) and name.strip() else None
    if record is not None:
        return DatasetClasses(record.name, record.class_names, record.image_size, 1 if record.grey else 3)
    return load_dataset(name, data_dir)


def _load_uncached(name: str, data_dir: str | None, download: bool) -> ImageDataset:
    if name.startswith(FOLDER_PREFIX):
        ds = load_folder(Path(name[len(FOLDER_PREFIX):]))
    else:
        ds = RECORDS[name].load(Path(data_dir) if data_dir is not None else Path("."), download)
    for arr in (ds.x_train, ds.y_train, ds.x_test, ds.y_test):
        arr.flags.writeable = False  # shared by every caller through the memo
    return ds


# An LRU memo (like functools.lru_cache, but keyed without the `download` flag), one entry per
# built-in set so all of them fit at once.
_MEMO: OrderedDict[tuple[str, str | None], ImageDataset] = OrderedDict()
_MEMO_SIZE = len(RECORDS)
_MEMO_LOCK = threading.RLock()


def clear_memory_cache() -> None:
    """Forget memoised datasets (the on-disk cache is kept)."""
    with _MEMO_LOCK:
        _MEMO.clear()


load_dataset.cache_clear = clear_memory_cache  # type: ignore[attr-defined]
