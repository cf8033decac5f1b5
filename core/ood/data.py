"""The images of an out-of-distribution run: a labelled in-distribution set, an OOD set made to look like
it, and the seeded split that holds ODIN's tuning images out of the evaluation.

- **In-distribution**: any dataset with at least two classes that have training images; its training
  images train the network, its test images are the in-distribution side of the evaluation. A set
  without labels (a flat ``folder:PATH`` of images is one class) is refused with a message.
- **Out-of-distribution**: a built-in set's test images, or every image file under ``folder:PATH``
  (recursively, hidden files skipped; class sub-folders are allowed and ignored). Images are
  *converted*, never refused, when their size or channels differ from the in-distribution set's: each
  is prepared as an outside image for that set is (:func:`core.images.to_dataset_shape`, the
  conversion ``python -m core score`` and the upload page use): greyscale to RGB by repeating the
  grey level, RGB to greyscale by PIL's luminance, shorter side scaled to the set's side and
  centre-cropped (and, for the MNIST-like sets, padded as their digits were). A file that cannot be
  read (corrupt, truncated, not an image) is skipped and reported; a folder with no readable image is
  refused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from core.data import DataError, ImageDataset, load_dataset
from core.data.decode import image_files_under
from core.data.records import FOLDER_PREFIX, canonical_name
from core.experiment import test_subset
from core.images import ImageFileError, describe_preparation, load_image_path, to_dataset_shape
from core.ood.config import OodConfig

_TUNE_STREAM = 2  # the tuning split's own seeded stream (core.detector uses 1 for its hold-out)


@dataclass(frozen=True, eq=False)
class OodImages:
    """The out-of-distribution images, shaped like the in-distribution set's."""

    name: str  # as given: a dataset name or folder:PATH
    x: np.ndarray  # uint8 (M, H, W, C)
    files: tuple[str, ...] | None  # a folder's: each image's path relative to the folder; None for a built-in set
    skipped: tuple[tuple[str, str], ...]  # a folder's files that could not be read: (path, why)
    conversion: str | None  # a sentence saying how the images were converted; None when used as they are


def labelled_classes(data: ImageDataset) -> list[int]:
    """The classes with training images; DataError unless there are two or more, since the class head needs
    labels to learn (Section 5.5's setting is a labelled multi-class dataset)."""
    present = sorted(int(c) for c in np.unique(data.y_train))
    if len(present) < 2:
        what = (f"one class ({data.class_names[present[0]]})" if present else "no training images")
        raise DataError(f"{data.name} has {what}: out-of-distribution detection trains a classifier of the "
                        "in-distribution categories, so it needs a labelled dataset of two or more classes (a "
                        "folder of class sub-folders, or a built-in set). For one class of normal images, use "
                        "one-class detection: python -m core run --dataset ... --normal-class ...")
    return present


def same_source(a: str, b: str) -> bool:
    """Whether two dataset names name the same images (spellings and folder paths normalised)."""
    def key(name: str) -> str:
        name = canonical_name(name.strip())
        if name.lower().startswith(FOLDER_PREFIX):
            return FOLDER_PREFIX + str(Path(name[len(FOLDER_PREFIX):].strip()).expanduser().resolve())
        return name
    return key(a) == key(b)


def load_in_distribution(name: str, data_dir: str | None = None) -> ImageDataset:
    data = load_dataset(name, data_dir)
    labelled_classes(data)
    if len(data.x_test) == 0:
        raise DataError(f"{data.name} has no test images: they are the in-distribution side of the evaluation")
    return data


def load_out_of_distribution(name: str, inside: ImageDataset, data_dir: str | None = None) -> OodImages:
    """The OOD images named by ``name``, converted to ``inside``'s shape (see the module docstring)."""
    if same_source(name, inside.name):
        raise DataError(f"the OOD set {name} is the in-distribution set itself; name another dataset or folder")
    channels, size = inside.channels, inside.image_size
    how = f"converted as {inside.name} prepares outside images: {describe_preparation(channels, size, inside.name)}"
    if canonical_name(name.strip()).lower().startswith(FOLDER_PREFIX):
        return _folder_images(name, inside, how)
    x = load_dataset(name, data_dir).x_test
    if x.shape[1:] == inside.x_test.shape[1:]:
        return OodImages(name, x, None, (), None)
    mode = "L" if x.shape[-1] == 1 else "RGB"
    converted = np.stack([to_dataset_shape(Image.fromarray(im[..., 0] if mode == "L" else im, mode), channels, size,
                                           inside.name) for im in x])
    return OodImages(name, converted, None, (), f"the OOD set's {x.shape[1]}x{x.shape[2]}x{x.shape[3]} images were "
                                                f"{how}")


def _folder_images(name: str, inside: ImageDataset, how: str) -> OodImages:
    folder = Path(canonical_name(name.strip())[len(FOLDER_PREFIX):].strip()).expanduser()
    if not folder.is_dir():
        raise DataError(f"no folder at {folder} (the OOD set {name}): give folder:PATH of a folder of images")
    images, files, skipped = [], [], []
    for path in image_files_under(folder):
        relative = os.path.relpath(path, folder)
        try:
            images.append(load_image_path(path, inside.channels, inside.image_size, inside.name))
        except ImageFileError as exc:
            skipped.append((relative, str(exc)))
            continue
        files.append(relative)
    if not images:
        why = f"; unreadable: {skipped[0][0]}: {skipped[0][1]}" if skipped else ""
        raise DataError(f"no readable images under {folder} (the OOD set {name}): it needs PNG, JPEG, BMP, GIF or "
                        f"WebP files, in the folder or in sub-folders{why}")
    return OodImages(name, np.stack(images), tuple(files), tuple(skipped), f"the OOD image files were {how}")


@dataclass(frozen=True)
class TuningSplit:
    """Indices of the in-distribution test images and of the OOD images: ODIN tunes on the first pair,
    and all three methods are evaluated on the second (disjoint from the first)."""

    tune_in: np.ndarray
    tune_out: np.ndarray
    eval_in: np.ndarray
    eval_out: np.ndarray


def tuning_split(y_test: np.ndarray, n_out: int, config: OodConfig) -> TuningSplit:
    """Seeded: at most ``max_test_images`` a side (the in-distribution side class-stratified), of which
    ``tune_images`` (at most half, so the evaluation keeps the rest) tune ODIN. DataError when a side has
    fewer than 2 images, one to tune on and one to evaluate."""
    rng = np.random.default_rng([config.seed, _TUNE_STREAM])
    pool_in = test_subset(y_test, config.max_test_images, config.seed)
    pool_out = (np.arange(n_out) if config.max_test_images is None or n_out <= config.max_test_images
                else np.sort(rng.choice(n_out, config.max_test_images, replace=False)))
    parts = []
    for side, pool in (("in-distribution test", pool_in), ("OOD", pool_out)):
        if len(pool) < 2:
            raise DataError(f"{len(pool)} {side} image(s) are too few: ODIN needs one to tune on and the evaluation "
                            "one more")
        tune = np.zeros(len(pool), bool)
        tune[rng.choice(len(pool), min(config.tune_images, len(pool) // 2), replace=False)] = True
        parts.append((pool[tune], pool[~tune]))
    (tune_in, eval_in), (tune_out, eval_out) = parts
    return TuningSplit(tune_in, tune_out, eval_in, eval_out)
