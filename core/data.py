"""Dataset registry: find, decode and cache the image sets GEOM is evaluated on.

Every loader returns the same thing, an :class:`ImageDataset` of uint8 arrays shaped
``(N, H, W, C)`` already at the model's input size (32x32, or 64x64 for Cats-vs-Dogs). Keeping
uint8 until the last moment keeps memory small (CIFAR-10 is 184 MB as uint8, 737 MB as float32)
and makes the paper's preprocessing explicit: zero-pad Fashion-MNIST 28 -> 32 on the uint8 pixels,
then :func:`to_model_input` scales to [-1, 1], so the pad becomes exactly -1.

Where the files come from (see ``shared/data/README.md`` for the copies shipped with the project):

* ``mnist``, ``fashion_mnist``: torchvision's raw idx files, ``<data_dir>/{MNIST,FashionMNIST}/raw``.
* ``cifar10``: an image-folder tree ``<data_dir>/cifar10/{train,test}/<class>/<index>.jpg``, or
  torchvision's ``<data_dir>/cifar-10-batches-py`` pickles.
* ``cifar100``: ``<data_dir>/cifar100/{train,test}.npz`` (laid out by ``shared/tools/get_cifar100``)
  or torchvision's ``<data_dir>/cifar-100-python`` pickles; the 20 coarse superclasses the paper uses.
* ``cats_vs_dogs``: Kaggle's flat ``<data_dir>/cats_vs_dogs/train/{cat,dog}.<N>.jpg``.
* ``digits``: scikit-learn's bundled 8x8 digits, so something always works offline.
* ``folder:PATH``: any tree of class sub-folders.

Decoding tens of thousands of small JPEGs takes seconds, so decoded arrays are cached as ``.npz``
under :func:`cache_dir`, and :func:`load_dataset` memoises whole datasets in-process.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shutil
import socket
import tempfile
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "DATASETS",
    "CIFAR10_CLASSES",
    "CIFAR100_COARSE_CLASSES",
    "CIFAR100_FINE_TO_COARSE",
    "FASHION_MNIST_CLASSES",
    "DataError",
    "ImageDataset",
    "cache_dir",
    "clear_memory_cache",
    "load_dataset",
    "parse_class",
    "resolve_data_dir",
    "to_model_input",
]

DATASETS: tuple[str, ...] = ("mnist", "fashion_mnist", "cifar10", "cifar100", "cats_vs_dogs", "digits")
"""Registry names accepted by :func:`load_dataset`; ``"folder:PATH"`` is accepted as well."""

FOLDER_PREFIX = "folder:"
IMAGE_EXTENSIONS: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"})

MNIST_CLASSES: tuple[str, ...] = tuple(str(i) for i in range(10))
# The standard Fashion-MNIST label order (label id -> name), as in zalandoresearch/fashion-mnist and
# torchvision. The paper's tables print the Fashion classes in alphabetical order (its appendix C,
# 0 Ankle-boot ... 9 Trouser); core.paper_tables maps those rows back to these label ids.
FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
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
CATS_VS_DOGS_CLASSES: tuple[str, ...] = ("cat", "dog")

# Bumped whenever the decoding below changes, so stale .npz caches are never reused
# (2: high-bit-depth images scaled to 8 bits, not clipped).
_CACHE_VERSION = 2
# Folder datasets smaller than this decode in well under a second; caching them would only
# litter the cache directory (tests build many tiny trees).
_FOLDER_CACHE_MIN_FILES = 1000
# Kept short: a download that cannot connect should fail in seconds, not hang the app.
_DOWNLOAD_SOCKET_TIMEOUT_S = 20.0


class DataError(Exception):
    """Raised with a message saying what is missing and how to fix it."""


@dataclass(frozen=True, eq=False)
class ImageDataset:
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
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_size(self) -> int:
        """Height (= width) of every image in pixels."""
        return int(self.x_train.shape[1])

    @property
    def channels(self) -> int:
        return int(self.x_train.shape[3])

    def class_label(self, i: int) -> str:
        """Human label "3 - cat"; just "3" where the class name is its own id (MNIST, digits)."""
        name = self.class_names[i]
        return name if name == str(i) else f"{i} - {name}"

    def class_labels(self) -> list[str]:
        return [self.class_label(i) for i in range(self.num_classes)]


# --------------------------------------------------------------------------------------------
# Locations


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where raw datasets live: explicit argument > env ``GEOM_DATA_DIR`` > ``~/.cache/geom/data``.

    The folder need not exist yet: a successful download creates it, a failed one leaves nothing
    behind (see :func:`_torchvision_attempt`).
    """
    if data_dir is None or str(data_dir) == "":
        data_dir = os.environ.get("GEOM_DATA_DIR") or Path.home() / ".cache" / "geom" / "data"
    return Path(data_dir).expanduser().resolve()


def cache_dir() -> Path:
    """Where decoded ``.npz`` arrays are cached, created on demand.

    ``GEOM_CACHE_DIR`` > ``$XDG_CACHE_HOME/geom/arrays`` (default ``~/.cache/geom/arrays``) >
    ``<tmp>/geom-cache-<uid>``: the first that can be created and written. The cache is kept out
    of the data directory on purpose: a data directory such as the project's ``shared/data`` is a
    read-only, size-budgeted copy, and running as root makes ``os.access`` report it writable
    anyway, so "fall back when read-only" cannot be detected reliably there.
    """
    candidates: list[Path] = []
    if os.environ.get("GEOM_CACHE_DIR"):
        candidates.append(Path(os.environ["GEOM_CACHE_DIR"]).expanduser())
    xdg = os.environ.get("XDG_CACHE_HOME")
    candidates.append((Path(xdg) if xdg else Path.home() / ".cache") / "geom" / "arrays")
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    candidates.append(Path(tempfile.gettempdir()) / f"geom-cache-{uid}")
    for path in candidates:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(path, os.W_OK):
            return path.resolve()
    raise DataError(f"no writable cache directory among {[str(p) for p in candidates]}; set GEOM_CACHE_DIR")


# --------------------------------------------------------------------------------------------
# Public entry points


def _canonical_name(name: str) -> str:
    """Registry names are case-insensitive and accept '-' for '_' (``fashion-mnist``)."""
    if name.lower().startswith(FOLDER_PREFIX):
        return name  # a path keeps its case
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    aliases = {"fashionmnist": "fashion_mnist", "cifar_10": "cifar10", "cifar_100": "cifar100",
               "catsvsdogs": "cats_vs_dogs", "cats_dogs": "cats_vs_dogs"}
    return aliases.get(key, key)


def _valid_names_text() -> str:
    return ", ".join(DATASETS) + ", or folder:PATH (a folder of class sub-folders)"


def load_dataset(name: str, data_dir: str | os.PathLike[str] | None = None, download: bool = True) -> ImageDataset:
    """Load a dataset by registry name; memoised in-process per (name, resolved data_dir).

    The returned arrays are read-only, because the same object is handed to every caller (the app
    and the CLI call this repeatedly). Copy before modifying. ``load_dataset.cache_clear()``
    (alias :func:`clear_memory_cache`) drops the in-process memo; the on-disk ``.npz`` cache stays.
    """
    if not isinstance(name, str) or not name.strip():
        raise DataError(f"dataset name must be a non-empty string; valid names: {_valid_names_text()}")
    canonical = _canonical_name(name.strip())
    if canonical.lower().startswith(FOLDER_PREFIX):
        raw = canonical[len(FOLDER_PREFIX):].strip()
        if not raw:
            raise DataError("folder: needs a path, e.g. folder:/data/my_images (a folder of class sub-folders)")
        key: tuple[str, str | None] = (FOLDER_PREFIX + str(Path(raw).expanduser().resolve()), None)
    elif canonical == "digits":
        key = ("digits", None)  # bundled with scikit-learn: data_dir is irrelevant
    elif canonical in DATASETS:
        key = (canonical, str(resolve_data_dir(data_dir)))
    else:
        raise DataError(f"unknown dataset {name!r}; valid names: {_valid_names_text()}")
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


def _load_uncached(name: str, data_dir: str | None, download: bool) -> ImageDataset:
    if name.startswith(FOLDER_PREFIX):
        ds = _load_folder(Path(name[len(FOLDER_PREFIX):]))
    else:
        ds = _LOADERS[name](Path(data_dir) if data_dir is not None else Path("."), download)
    for arr in (ds.x_train, ds.y_train, ds.x_test, ds.y_test):
        arr.flags.writeable = False  # shared by every caller through the memo
    return ds


# An LRU memo (like functools.lru_cache, but keyed without the `download` flag). Six entries hold
# every built-in set at once: about 0.7 GB of uint8.
_MEMO: OrderedDict[tuple[str, str | None], ImageDataset] = OrderedDict()
_MEMO_SIZE = 6
_MEMO_LOCK = threading.RLock()


def clear_memory_cache() -> None:
    """Forget memoised datasets (the on-disk cache is kept)."""
    with _MEMO_LOCK:
        _MEMO.clear()


load_dataset.cache_clear = clear_memory_cache  # type: ignore[attr-defined]


def parse_class(dataset: ImageDataset, cls: str | int) -> int:
    """Turn a user's class choice into a label id.

    Accepts an id (``3`` or ``"3"``), a name (``"cat"``, case-insensitive, punctuation ignored, a
    unique prefix is enough: ``"t-shirt"``), or a :meth:`ImageDataset.class_label` string
    (``"3 - cat"``). Text that reads as a whole number is always an id, read before any name
    matching: the name matcher ignores punctuation, so ``"-1"`` would otherwise become class
    ``"1"``. Negative ids are refused. A folder dataset whose class folders are called ``"1"``,
    ``"2"``, ... is therefore chosen by id or by label (``"0 - 1"``), as the app and the CLI list them.
    """
    valid = ", ".join(dataset.class_labels())
    if isinstance(cls, (bool, np.bool_)):
        raise DataError(f"class must be an id or a name, got {cls!r}; valid classes: {valid}")
    if isinstance(cls, (int, np.integer)):
        return _class_id(dataset, int(cls))
    if not isinstance(cls, str):
        raise DataError(f"class must be an id or a name, got {type(cls).__name__}; valid classes: {valid}")
    text = cls.strip()
    if re.fullmatch(r"[+-]?\s*\d+", text):
        return _class_id(dataset, int(re.sub(r"\s+", "", text)))
    by_name = _match_class_name(dataset.class_names, text)
    if by_name is not None:
        return by_name
    m = re.fullmatch(r"(\d+)\s*[-:.)]\s*(.+)", text)
    if m:
        idx = _class_id(dataset, int(m.group(1)))
        if _norm(m.group(2)) == _norm(dataset.class_names[idx]):
            return idx
        raise DataError(f"class {cls!r}: id {idx} is {dataset.class_label(idx)!r}, not {m.group(2)!r}; valid classes: {valid}")
    raise DataError(f"unknown class {cls!r} for {dataset.name}; valid classes: {valid}")


def _class_id(dataset: ImageDataset, idx: int) -> int:
    """``idx`` itself when it is a class id of ``dataset``, else a DataError listing the valid ones."""
    n = dataset.num_classes
    if idx < 0:
        raise DataError(f"class id {idx} is negative: ids run from 0 to {n - 1} for {dataset.name}; "
                        f"valid classes: {', '.join(dataset.class_labels())}")
    if idx >= n:
        raise DataError(f"class id {idx} is out of range 0..{n - 1} for {dataset.name}; "
                        f"valid classes: {', '.join(dataset.class_labels())}")
    return idx


def _norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", text.lower())


def _match_class_name(names: Sequence[str], text: str) -> int | None:
    lowered = [c.lower() for c in names]
    if text.lower() in lowered:
        return lowered.index(text.lower())
    key = _norm(text)
    if not key:
        return None
    normed = [_norm(c) for c in names]
    if key in normed:
        return normed.index(key)
    prefixed = [i for i, c in enumerate(normed) if c.startswith(key)]
    if len(prefixed) == 1 and len(key) >= 3:
        return prefixed[0]
    return None


def to_model_input(x: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, C) -> float32 (N, C, H, W) in [-1, 1] via ``x / 127.5 - 1``.

    0 maps to exactly -1 and 255 to exactly 1 (127.5 is exact in float32), so the Fashion-MNIST
    zero pad is exactly -1 as in the paper. Only uint8 is accepted so images are never scaled twice.
    """
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise ValueError(f"to_model_input expects uint8 images (0..255), got {x.dtype}")
    if x.ndim != 4:
        raise ValueError(f"to_model_input expects (N, H, W, C), got shape {x.shape}")
    out = np.empty((x.shape[0], x.shape[3], x.shape[1], x.shape[2]), dtype=np.float32)
    np.divide(x.transpose(0, 3, 1, 2), np.float32(127.5), out=out, dtype=np.float32)
    out -= np.float32(1.0)
    return torch.from_numpy(out)


def as_model_input(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Accept uint8 images (N, H, W, C) as datasets give them, or a model-ready float tensor."""
    if isinstance(x, np.ndarray):
        if x.dtype != np.uint8:
            raise TypeError(f"numpy images must be uint8 (N, H, W, C), got {x.dtype}")
        return to_model_input(x)
    if not torch.is_floating_point(x) or x.ndim != 4:
        raise TypeError("tensor images must be float (N, C, H, W) scaled to [-1, 1]")
    return x


# --------------------------------------------------------------------------------------------
# Helpers shared by the loaders


def _rel(path: str, root: Path) -> str:
    """path relative to root, for cache keys (cheap string work, no pathlib)."""
    return os.path.relpath(path, root) if not path.startswith(str(root) + os.sep) else path[len(str(root)) + 1:]


def _number_then_name(path: str) -> tuple[bool, int, str]:
    name = os.path.basename(path)
    n = _leading_int(name)
    return (n is None, n or 0, name)


def _layout_hint() -> str:
    return (
        "Set GEOM_DATA_DIR or pass --data-dir to a folder laid out as: MNIST/raw/train-images-idx3-ubyte (...), "
        "FashionMNIST/raw/..., cifar10/{train,test}/<class>/<N>.jpg or cifar-10-batches-py/, "
        "cifar100/{train,test}.npz or cifar-100-python/, cats_vs_dogs/train/{cat,dog}.<N>.jpg"
    )


def _short(err: BaseException, limit: int = 400) -> str:
    text = " ".join(f"{type(err).__name__}: {err}".split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextlib.contextmanager
def _download_guard() -> Iterator[None]:
    """Bound each socket operation and silence torchvision's progress output while downloading.

    The default socket timeout is global, so it is restored afterwards.
    """
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(_DOWNLOAD_SOCKET_TIMEOUT_S)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        socket.setdefaulttimeout(old)


def _torchvision_attempt(what: str, looked_for: Path | str, root: Path, download: bool, build: Callable[[bool], object]) -> object:
    """Build a torchvision dataset; turn "missing" and failed downloads into a useful DataError.

    A download goes into ``root`` wherever it points, creating it when needed (the README promises
    downloads into ``--data-dir`` / ``GEOM_DATA_DIR`` / the default folder). A failed one leaves
    the disk as it found it: torchvision makes ``<root>/MNIST/raw`` (and ``root`` itself) before it
    fails to connect, so a typo in ``--data-dir`` would otherwise litter the disk with empty
    dataset folders, and a test run without data would create them beside the clone.
    """
    if not download:
        raise DataError(
            f"{what} not found in {root} (looked for {looked_for}) and download=False. {_layout_hint()}."
        )
    missing_root = "" if root.is_dir() else f" (the folder {root} does not exist)"
    try:
        with _download_guard(), _undone_on_failure(root):
            return build(True)
    except Exception as err:  # URLError, RuntimeError, OSError, socket.timeout, md5 failures, ...
        raise DataError(
            f"{what} not found in {root}{missing_root} (looked for {looked_for}) and it could not be "
            f"downloaded: {_short(err)}. {_layout_hint()}."
        ) from err


# torchvision writes at most three levels below the data folder (MNIST/raw/<file>, or
# <archive>.tar.gz and cifar-10-batches-py/<file>), so that is all a failed download can leave.
_DOWNLOAD_DEPTH = 3


@contextlib.contextmanager
def _undone_on_failure(root: Path) -> Iterator[None]:
    """If the block raises, remove what it added under ``root``: ``root`` and any parents it
    created, else the new entries up to :data:`_DOWNLOAD_DEPTH` levels down (partial downloads,
    empty dataset folders). What was there before is never touched."""
    created_from = _first_missing(root)
    before = set() if created_from is not None else _entries(root, _DOWNLOAD_DEPTH)
    try:
        yield
    except BaseException:
        if created_from is not None:
            shutil.rmtree(created_from, ignore_errors=True)
        else:
            _remove_new(root, _entries(root, _DOWNLOAD_DEPTH) - before)
        raise


def _first_missing(path: Path) -> Path | None:
    """The outermost folder of ``path`` (itself or a parent) that does not exist; None if it does."""
    if path.exists():
        return None
    while not path.parent.exists():
        path = path.parent
    return path


def _entries(root: Path, depth: int) -> set[str]:
    """Paths (relative to ``root``) of everything at most ``depth`` levels below it.

    Only folders above the last level are listed, so a data folder holding 60,000 CIFAR JPEGs
    four levels down costs a handful of directory reads.
    """
    found: set[str] = set()
    with contextlib.suppress(OSError):
        for entry in os.scandir(root):
            found.add(entry.name)
            if depth > 1 and entry.is_dir(follow_symlinks=False):
                found |= {os.path.join(entry.name, sub) for sub in _entries(Path(entry.path), depth - 1)}
    return found


def _remove_new(root: Path, new: set[str]) -> None:
    """Delete the ``new`` paths under ``root``, each outermost one whole (its contents with it)."""
    for rel in sorted(new, key=len):
        path = root / rel
        if not os.path.lexists(path):  # inside a folder removed already
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                path.unlink()


def _cache_key(*parts: object) -> str:
    digest = hashlib.sha256(repr((_CACHE_VERSION,) + parts).encode()).hexdigest()
    return digest[:20]


def _cache_load(stem: str, key: str) -> dict[str, np.ndarray] | None:
    """Return the cached arrays, or None when absent or unreadable (then they are rebuilt)."""
    try:
        path = cache_dir() / f"{stem}-{key}.npz"
    except DataError:
        return None
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except Exception as err:  # truncated or corrupt cache: rebuild it
        warnings.warn(f"ignoring unreadable cache file {path}: {_short(err)}", stacklevel=3)
        return None


def _cache_save(stem: str, key: str, arrays: dict[str, np.ndarray]) -> Path | None:
    """Write the arrays atomically (temp file + os.replace), so readers never see half a file.

    A failure to write only costs speed next time, so it warns instead of raising.
    """
    try:
        folder = cache_dir()
        final = folder / f"{stem}-{key}.npz"
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{stem}-", suffix=".npz.tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)  # uncompressed: loading is a memcpy, not an inflate
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return final
    except (OSError, DataError) as err:
        warnings.warn(f"could not cache decoded {stem} arrays: {_short(err)}", stacklevel=3)
        return None


def _decode(path: str, mode: str, size: int | None) -> np.ndarray:
    """Decode one image to uint8 (H, W, C) in ``mode`` ("RGB" or "L"), fitted to size x size.

    16-bit and other high-bit-depth greyscale is scaled to 8 bits first (:func:`core.bitdepth.to_8bit`,
    the rule uploads follow too): PIL's ``convert`` alone would clip it to near-binary images.

    Non-square images are scaled on their shorter side and centre-cropped (what the authors' code
    does for Cats-vs-Dogs), so no image is squeezed here. Shrinking uses BOX (area-like) filtering;
    enlarging uses bilinear.
    """
    from PIL import Image, ImageOps

    from core.bitdepth import to_8bit

    with Image.open(path) as img:
        img = to_8bit(img).convert(mode)
        if size is not None and img.size != (size, size):
            shrink = min(img.size) >= size
            method = Image.Resampling.BOX if shrink else Image.Resampling.BILINEAR
            img = ImageOps.fit(img, (size, size), method=method)
        arr = np.asarray(img, dtype=np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr


def _decode_many(paths: Sequence[str], mode: str, size: int | None, skip_bad: bool) -> tuple[np.ndarray, list[int]]:
    """Decode images in a plain loop; returns (stack, indices of the paths that decoded).

    A plain loop, not a thread pool: measured on the 2-core box, 5000 CIFAR JPEGs took 0.54 s in a
    loop and 0.94 s with 2 threads (the per-file work is mostly Python overhead under the GIL).
    """
    from PIL import UnidentifiedImageError

    images: list[np.ndarray] = []
    kept: list[int] = []
    for i, path in enumerate(paths):
        try:
            images.append(_decode(path, mode, size))
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as err:
            if not skip_bad:
                raise DataError(f"could not decode image {path}: {_short(err)}") from err
            warnings.warn(f"skipping unreadable image {path}: {_short(err)}", stacklevel=2)
            continue
        kept.append(i)
    if not images:
        channels = 1 if mode == "L" else 3
        return np.zeros((0, size or 0, size or 0, channels), np.uint8), kept
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise DataError(f"images have different sizes {sorted(shapes)[:4]}; expected all the same")
    return np.stack(images), kept


def _leading_int(name: str) -> int | None:
    m = re.search(r"\d+", os.path.splitext(name)[0])
    return int(m.group()) if m else None


def _image_files(folder: Path | str) -> list[str]:
    """Paths (plain strings) of the image files directly inside folder.

    Strings and os.scandir, not pathlib: for the 60,000 CIFAR-10 files, building Path objects
    took about 1.5 s, longer than reading the cached arrays.
    """
    with os.scandir(folder) as it:
        return [
            e.path for e in it
            if not e.name.startswith(".") and os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS and e.is_file()
        ]


# --------------------------------------------------------------------------------------------
# Loaders


def _load_mnist_like(cls_name: str, registry_name: str, class_names: tuple[str, ...], root: Path, download: bool) -> ImageDataset:
    """MNIST / Fashion-MNIST via torchvision, zero-padded 28 -> 32 on the uint8 pixels (pad = 0)."""
    import torchvision.datasets as tvd

    tv_cls = getattr(tvd, cls_name)
    raw = root / cls_name / "raw"
    needed = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    missing = [raw / f for f in needed if not (raw / f).is_file()]
    label = "MNIST" if cls_name == "MNIST" else "Fashion-MNIST"
    if missing:
        _torchvision_attempt(label, missing[0], root, download, lambda dl: tv_cls(root=str(root), train=True, download=dl))
    splits = []
    for train in (True, False):
        try:
            ds = tv_cls(root=str(root), train=train, download=False)
        except Exception as err:
            raise DataError(f"{label} files in {raw} could not be read: {_short(err)}. {_layout_hint()}.") from err
        x = np.pad(ds.data.numpy().astype(np.uint8, copy=False), ((0, 0), (2, 2), (2, 2)), constant_values=0)[..., None]
        splits.append((x, ds.targets.numpy().astype(np.int64)))
    (xtr, ytr), (xte, yte) = splits
    return ImageDataset(registry_name, xtr, ytr, xte, yte, class_names)


def _load_mnist(root: Path, download: bool) -> ImageDataset:
    return _load_mnist_like("MNIST", "mnist", MNIST_CLASSES, root, download)


def _load_fashion_mnist(root: Path, download: bool) -> ImageDataset:
    return _load_mnist_like("FashionMNIST", "fashion_mnist", FASHION_MNIST_CLASSES, root, download)


def _list_class_tree(split_dir: Path) -> list[tuple[str, list[str]]]:
    """Sorted (class folder, image files) pairs under split_dir; empty class folders are dropped."""
    out = []
    for sub in sorted(p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = _image_files(sub)
        if files:
            out.append((sub.name, files))
    return out


def _ordered_split(tree: list[tuple[str, list[str]]]) -> tuple[list[str], np.ndarray]:
    """Order one split deterministically: by the integer in the file name when those are unique
    across the split (for the CIFAR-10 tree that is the original dataset order), else by
    (class, integer, name)."""
    items = [(_leading_int(os.path.basename(p)), label, os.path.basename(p), p) for label, (_, files) in enumerate(tree) for p in files]
    ints = [it[0] for it in items]
    if None not in ints and len(set(ints)) == len(ints):
        items.sort(key=lambda it: it[0])
    else:
        items.sort(key=lambda it: (it[1], it[0] if it[0] is not None else -1, it[2]))
    return [it[3] for it in items], np.array([it[1] for it in items], dtype=np.int64)


def _load_cifar10(root: Path, download: bool) -> ImageDataset:
    """CIFAR-10 from the JPEG image-folder tree (decoded once, then cached) or torchvision pickles."""
    tree_root = root / "cifar10"
    if (tree_root / "train").is_dir() and (tree_root / "test").is_dir():
        return _load_cifar10_tree(tree_root)
    pickles = root / "cifar-10-batches-py"
    import torchvision.datasets as tvd

    if not (pickles / "data_batch_1").is_file():
        _torchvision_attempt(
            "CIFAR-10", tree_root / "train", root, download, lambda dl: tvd.CIFAR10(root=str(root), train=True, download=dl)
        )
    try:
        tr = tvd.CIFAR10(root=str(root), train=True, download=False)
        te = tvd.CIFAR10(root=str(root), train=False, download=False)
    except Exception as err:
        raise DataError(f"CIFAR-10 pickles in {pickles} could not be read: {_short(err)}. {_layout_hint()}.") from err
    return ImageDataset(
        "cifar10", np.asarray(tr.data, np.uint8), np.asarray(tr.targets, np.int64),
        np.asarray(te.data, np.uint8), np.asarray(te.targets, np.int64), CIFAR10_CLASSES,
    )


def _load_cifar10_tree(tree_root: Path) -> ImageDataset:
    splits = {s: _list_class_tree(tree_root / s) for s in ("train", "test")}
    for split, tree in splits.items():
        names = tuple(c for c, _ in tree)
        if names != CIFAR10_CLASSES:
            raise DataError(
                f"{tree_root / split} should hold the 10 CIFAR-10 class folders {', '.join(CIFAR10_CLASSES)} "
                f"with images inside; found {list(names) or 'none'}"
            )
    ordered = {s: _ordered_split(t) for s, t in splits.items()}
    key = _cache_key(str(tree_root.resolve()), {s: [_rel(p, tree_root) for p in ordered[s][0]] for s in ordered})
    cached = _cache_load("cifar10", key)
    if cached is None:
        cached = {}
        for s, (paths, labels) in ordered.items():
            x, _ = _decode_many(paths, "RGB", 32, skip_bad=False)
            cached[f"x_{s}"], cached[f"y_{s}"] = x, labels
        _cache_save("cifar10", key, cached)
    return ImageDataset("cifar10", cached["x_train"], cached["y_train"], cached["x_test"], cached["y_test"], CIFAR10_CLASSES)


def _load_cifar100(root: Path, download: bool) -> ImageDataset:
    """CIFAR-100 with its 20 coarse superclasses (as in the paper), from either of two layouts.

    ``cifar100/{train,test}.npz`` (what ``shared/tools/get_cifar100`` lays out: ``x`` uint8
    N x 32 x 32 x 3, ``fine`` 0-99, ``coarse`` 0-19) is read first, since it needs no network;
    else torchvision's ``cifar-100-python`` pickles, downloaded where the network allows.
    """
    npz_dir = root / "cifar100"
    if (npz_dir / "train.npz").is_file() or (npz_dir / "test.npz").is_file():
        train, test = (_read_cifar100_npz(npz_dir / f"{split}.npz") for split in ("train", "test"))
        return ImageDataset("cifar100", *train, *test, CIFAR100_COARSE_CLASSES)
    import torchvision.datasets as tvd

    pickles = root / "cifar-100-python"
    if not (pickles / "train").is_file() or not (pickles / "test").is_file():
        _torchvision_attempt(
            "CIFAR-100", f"{npz_dir}/{{train,test}}.npz or {pickles}/{{train,test}}", root, download,
            lambda dl: tvd.CIFAR100(root=str(root), train=True, download=dl),
        )
    try:
        tr = tvd.CIFAR100(root=str(root), train=True, download=False)
        te = tvd.CIFAR100(root=str(root), train=False, download=False)
    except Exception as err:
        raise DataError(f"CIFAR-100 pickles in {pickles} could not be read: {_short(err)}. {_layout_hint()}.") from err
    coarse = np.asarray(CIFAR100_FINE_TO_COARSE, dtype=np.int64)
    return ImageDataset(
        "cifar100", np.asarray(tr.data, np.uint8), coarse[np.asarray(tr.targets)],
        np.asarray(te.data, np.uint8), coarse[np.asarray(te.targets)], CIFAR100_COARSE_CLASSES,
    )


def _read_cifar100_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
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
        raise refuse(f"it could not be read ({_short(err)})") from err
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


_CATDOG_RE = re.compile(r"^(cat|dog)\.(\d+)\.(jpe?g|png)$", re.IGNORECASE)


def _find_cats_vs_dogs(root: Path) -> tuple[Path, list[tuple[int, int, str]]] | None:
    """(source folder, [(label, number, path)]) from the first layout that has images."""
    for folder in (root / "cats_vs_dogs" / "train", root / "cats_vs_dogs"):
        if folder.is_dir():
            found = []
            for p in _image_files(folder):
                m = _CATDOG_RE.match(os.path.basename(p))
                if m:
                    found.append((CATS_VS_DOGS_CLASSES.index(m.group(1).lower()), int(m.group(2)), p))
            if found:
                return folder, found
    for pet in (root / "cats_vs_dogs" / "PetImages", root / "PetImages"):
        if (pet / "Cat").is_dir() and (pet / "Dog").is_dir():
            found = []
            for label, sub in enumerate(("Cat", "Dog")):
                for p in _image_files(pet / sub):
                    n = _leading_int(os.path.basename(p))
                    found.append((label, n if n is not None else -1, p))
            if found:
                return pet, found
    return None


def _load_cats_vs_dogs(root: Path, download: bool) -> ImageDataset:
    """Kaggle Cats-vs-Dogs at 64x64 RGB, split per class with ``np.random.default_rng(0)``.

    Files are ordered by (class, number) before the split, so the split depends only on the set
    of files. Per class: 10,000 train and 2,500 test images as in the paper when the class has at
    least 12,500 images (any extra are left out); a class with fewer is split 80/20 instead
    (e.g. Microsoft's PetImages after its unreadable files are skipped). Labels: cat 0, dog 1.
    """
    del download  # there is no official download source for this set
    found = _find_cats_vs_dogs(root)
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
    key = _cache_key(str(source.resolve()), [_rel(p, source) for p in paths])
    cached = _cache_load("cats_vs_dogs", key)
    if cached is None:
        x, kept = _decode_many(paths, "RGB", 64, skip_bad=True)
        cached = {"x": x, "y": labels[kept]}
        _cache_save("cats_vs_dogs", key, cached)
    x, y = cached["x"], cached["y"]
    train_idx, test_idx = [], []
    rng = np.random.default_rng(0)
    for label in range(len(CATS_VS_DOGS_CLASSES)):
        idx = np.flatnonzero(y == label)
        perm = idx[rng.permutation(len(idx))]
        if len(idx) >= 12_500:
            n_train, n_test = 10_000, 2_500
        else:
            n_test = int(round(0.2 * len(idx)))
            n_train = len(idx) - n_test
        train_idx.append(perm[:n_train])
        test_idx.append(perm[n_train:n_train + n_test])
    tr, te = np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(test_idx))
    return ImageDataset("cats_vs_dogs", x[tr], y[tr], x[te], y[te], CATS_VS_DOGS_CLASSES)


def _load_digits(root: Path, download: bool) -> ImageDataset:
    """scikit-learn's bundled 8x8 digits, 0..16 -> 0..255, bilinear-upsampled to 32x32.

    Always available offline, so the app and tests have a dataset even on a bare install.
    Stratified 80/20 split with ``random_state=0``.
    """
    del root, download
    from PIL import Image
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    small = np.clip(np.rint(bunch.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    big = np.stack([np.asarray(Image.fromarray(im).resize((32, 32), Image.Resampling.BILINEAR)) for im in small])[..., None]
    y = bunch.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(big, y, test_size=0.2, stratify=y, random_state=0)
    return ImageDataset("digits", xtr, ytr, xte, yte, MNIST_CLASSES)


def _folder_layout_hint(path: Path) -> str:
    return (
        f"expected {path}/<class>/<image>.png|jpg|jpeg|bmp|gif|webp (one sub-folder per class), "
        f"or {path}/train/<class>/... and {path}/test/<class>/..."
    )


def _load_folder(path: Path) -> ImageDataset:
    """Any tree of class sub-folders, with or without train/ and test/ sub-trees.

    Without a split, each class is split 80/20 with ``np.random.default_rng(0)``. Images become
    greyscale (L) when every image is greyscale, else RGB, and 64x64 when the median shorter side
    is at least 64, else 32x32. Unreadable files are skipped with a warning naming them.
    """
    if not path.exists():
        raise DataError(f"folder {path} does not exist; {_folder_layout_hint(path)}")
    if not path.is_dir():
        raise DataError(f"{path} is not a folder; {_folder_layout_hint(path)}")
    has_split = (path / "train").is_dir() and (path / "test").is_dir()
    if has_split:
        trees = {s: _list_class_tree(path / s) for s in ("train", "test")}
        class_names = tuple(sorted({c for t in trees.values() for c, _ in t}))
        missing_test = sorted({c for c, _ in trees["train"]} - {c for c, _ in trees["test"]})
        if missing_test:
            warnings.warn(f"{path}: classes {missing_test} have no test images", stacklevel=3)
    else:
        trees = {"all": _list_class_tree(path)}
        class_names = tuple(c for c, _ in trees["all"])
    if not class_names:
        raise DataError(f"no class sub-folders with images in {path}; {_folder_layout_hint(path)}")
    if has_split and not any(files for _, files in trees["train"]):
        raise DataError(f"no training images in {path / 'train'}; {_folder_layout_hint(path)}")

    # One flat list of (split, label, path) in a fixed order: class name, then number, then name.
    entries: list[tuple[str, int, str]] = []
    for split, tree in trees.items():
        for cname, files in tree:
            files = sorted(files, key=_number_then_name)
            entries += [(split, class_names.index(cname), p) for p in files]
    paths = [p for _, _, p in entries]

    stats = [(st.st_size, st.st_mtime_ns) for st in map(os.stat, paths)]  # edits invalidate the cache
    key = _cache_key(str(path.resolve()), [_rel(p, path) for p in paths], stats)
    use_cache = len(paths) >= _FOLDER_CACHE_MIN_FILES
    cached = _cache_load("folder", key) if use_cache else None
    if cached is None:
        mode, size, readable = _probe_folder_images(paths)
        if not readable:
            raise DataError(f"no readable images in {path}; {_folder_layout_hint(path)}")
        sub = [paths[i] for i in readable]
        x, kept = _decode_many(sub, mode, size, skip_bad=True)
        keep = np.asarray([readable[k] for k in kept], dtype=np.int64)
        cached = {"x": x, "keep": keep}
        if use_cache:
            _cache_save("folder", key, cached)
    x, keep = cached["x"], cached["keep"]
    if len(keep) == 0:
        raise DataError(f"no readable images in {path}; {_folder_layout_hint(path)}")
    split_of = np.array([entries[i][0] for i in keep])
    y = np.array([entries[i][1] for i in keep], dtype=np.int64)

    if has_split:
        tr, te = np.flatnonzero(split_of == "train"), np.flatnonzero(split_of == "test")
    else:
        rng = np.random.default_rng(0)
        tr_parts, te_parts = [], []
        for label in range(len(class_names)):
            idx = np.flatnonzero(y == label)
            perm = idx[rng.permutation(len(idx))]
            n_test = int(round(0.2 * len(idx)))
            if len(idx) >= 2:
                n_test = max(1, n_test)
            te_parts.append(perm[:n_test])
            tr_parts.append(perm[n_test:])
        tr, te = np.sort(np.concatenate(tr_parts)), np.sort(np.concatenate(te_parts))
    return ImageDataset(FOLDER_PREFIX + str(path.resolve()), x[tr], y[tr], x[te], y[te], class_names)


def _probe_folder_images(paths: Sequence[str]) -> tuple[str, int, list[int]]:
    """Read only the headers: pick the mode (L if all greyscale) and size; drop unreadable files."""
    from PIL import Image, UnidentifiedImageError

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
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as err:
            warnings.warn(f"skipping unreadable image {p}: {_short(err)}", stacklevel=3)
            continue
        readable.append(i)
    size = 64 if sides and float(np.median(sides)) >= 64 else 32
    return ("L" if all_grey else "RGB"), size, readable


_LOADERS: dict[str, Callable[[Path, bool], ImageDataset]] = {
    "mnist": _load_mnist,
    "fashion_mnist": _load_fashion_mnist,
    "cifar10": _load_cifar10,
    "cifar100": _load_cifar100,
    "cats_vs_dogs": _load_cats_vs_dogs,
    "digits": _load_digits,
}
