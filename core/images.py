"""Turn an image file (an upload, or a file given to ``python -m core score``) into one dataset-shaped
uint8 image, the way training data were made.

A detector only means something on inputs prepared like its training images: same channels, same
size, same padding. core.data decodes folder datasets (and CIFAR / Cats-vs-Dogs JPEGs) by
converting to "L" or "RGB", then :func:`core.data.decode.fit_square`; MNIST-like sets are 28x28
digits zero-padded to 32; ``digits`` is 8x8 at 17 grey levels, bilinear-upsampled to 32. Each
dataset's record says which (``DatasetRecord.upload``), and :func:`load_image_file` mirrors it.

Uploads come from anyone, so everything that can go wrong becomes an :class:`ImageFileError` with a
message fit to show a user: not an image, truncated or corrupt, too many bytes, too many pixels (a
decompression bomb), zero size. High-bit-depth images are scaled to 8 bits by
:func:`core.bitdepth.to_8bit`, exactly as folder datasets are. Beyond what a folder of training
JPEGs needs, an upload also gets its EXIF orientation applied (phone photos are stored sideways;
GEOM is all about rotations) and transparency composited onto a fixed background.

:func:`inspect_image` then runs one such image through a detector under every transform, returning
what the Transforms and upload pages draw: its k x k softmax matrix, its k transformed versions and
the per-transform terms of its Dirichlet score.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.bitdepth import to_8bit
from core.data import find_record, to_model_input
from core.data.decode import fit_square
from core.detector import GeomDetector
from core.dirichlet import dirichlet_contributions

__all__ = ["ImageFileError", "ImageReport", "MAX_FILE_BYTES", "MAX_PIXELS", "check_file_size", "describe_preparation",
           "inspect_image", "load_image_file", "load_image_path", "open_image", "should_invert", "to_dataset_shape"]

MAX_FILE_BYTES = 20 * 1024 * 1024
"""Larger uploads are refused before decoding: no sensible image for a 32x32 model is that big."""
MAX_PIXELS = 50_000_000
"""Larger images are refused from the header alone (a small file can claim a huge canvas)."""

class ImageFileError(ValueError):
    """An uploaded file that cannot be used as an image; the message is meant for the user."""


def load_image_file(data: bytes, channels: int, size: int, dataset: str | None = None,
                    background: int = 0, invert: bool = False) -> np.ndarray:
    """Decode ``data`` (PNG, JPEG, BMP, WebP, ...) into a uint8 (size, size, channels) image.

    ``dataset`` (a registry name) selects dataset-specific preparation: ``mnist`` and
    ``fashion_mnist`` resize to size-4 and pad 2 px of black, ``digits`` goes through 8x8 at 17
    levels; anything else is the generic shorter-side resize and centre crop. Transparent pixels are
    composited onto grey level ``background`` (default black, the background of the digit sets).
    ``invert`` reverses the grey levels before any padding (see :func:`to_dataset_shape`).
    """
    img = open_image(data)
    return to_dataset_shape(img, channels, size, dataset, background, invert)


def load_image_path(path: str | os.PathLike[str], channels: int, size: int, dataset: str | None = None,
                    invert: bool = False) -> np.ndarray:
    """:func:`load_image_file` of a file on disk, checking its size before reading it (a stray video
    should not fill the memory); an unreadable file is an ImageFileError too."""
    try:
        check_file_size(os.stat(path).st_size)
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise ImageFileError(f"The file cannot be read ({exc.strerror or exc}).") from None
    return load_image_file(data, channels, size, dataset, invert=invert)


def open_image(data: bytes) -> Image.Image:
    """Decode and fully load the bytes of an image file, refusing anything unusable.

    Returns the first frame of animated files, upright (EXIF orientation applied).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"expected the file's bytes, got {type(data).__name__}")
    check_file_size(len(data))
    with warnings.catch_warnings():
        # PIL warns above ~89 Mpx and raises above twice that; make both an error here.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(bytes(data)))
        except UnidentifiedImageError:
            raise ImageFileError(_unidentified_message(bytes(data[:32]))) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageFileError(_too_many_pixels_message()) from None
        except Exception as exc:  # noqa: BLE001 - decoders raise many types on malformed headers
            raise ImageFileError(f"The file looks like an image but its header is damaged ({_short(exc)}).") from None
        w, h = img.size
        if w <= 0 or h <= 0:
            raise ImageFileError(f"The image has zero size ({w} x {h} pixels).")
        if w * h > MAX_PIXELS:
            raise ImageFileError(_too_many_pixels_message(w, h))
        try:
            img.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageFileError(_too_many_pixels_message(w, h)) from None
        except Exception as exc:  # noqa: BLE001 - same reason: a corrupt body can fail in any decoder
            raise ImageFileError("The image file is truncated or corrupt and could not be decoded "
                                 f"({_short(exc)}).") from None
    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # noqa: BLE001 - a damaged EXIF block should not reject readable pixels
        return img


def check_file_size(n: int) -> None:
    """Refuse an empty file, or one over MAX_FILE_BYTES, from its size alone (before reading it)."""
    if n == 0:
        raise ImageFileError("The file is empty (0 bytes).")
    if n > MAX_FILE_BYTES:
        raise ImageFileError(f"The file is {n / 2**20:.1f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB. "
                             "Use a smaller image: the model sees it at a few dozen pixels anyway.")


def to_dataset_shape(img: Image.Image, channels: int, size: int, dataset: str | None = None,
                     background: int = 0, invert: bool = False) -> np.ndarray:
    """A loaded PIL image -> uint8 (size, size, channels), prepared like ``dataset``'s training images.

    ``invert`` reverses the upload's grey levels first, so that the black padding of the digit sets
    is added to an image that already has their polarity: inverting after padding would turn that
    padding into a white frame no training image has.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    mode = "L" if channels == 1 else "RGB"
    img = _to_mode(img, mode, background)
    img = ImageOps.invert(img) if invert else img
    preparation = _preparation(dataset)
    if preparation == "pad28" and size > 4:
        inner = fit_square(img, size - 4)
        arr = np.pad(np.asarray(inner, np.uint8), ((2, 2), (2, 2)) + ((0, 0),) * (channels == 3), constant_values=0)
    elif preparation == "digits8":
        arr = _like_sklearn_digits(img, size)
    else:
        arr = np.asarray(fit_square(img, size), np.uint8)
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr


def describe_preparation(channels: int, size: int, dataset: str | None = None) -> str:
    """One line telling a user what :func:`to_dataset_shape` does to an upload for this dataset."""
    colour = "greyscale" if channels == 1 else "colour"
    preparation = _preparation(dataset)
    if preparation == "pad28" and size > 4:
        return (f"{colour}; shorter side scaled to {size - 4} and centre-cropped, then a 2-pixel black border "
                f"added to make {size} x {size}, as the 28 x 28 digits were padded")
    if preparation == "digits8":
        return (f"{colour}; reduced to 8 x 8 at 17 grey levels, then enlarged to {size} x {size}, "
                "as scikit-learn's digits were")
    return f"{colour}; shorter side scaled to {size} and centre-cropped to {size} x {size}"


def _preparation(dataset: str | None) -> str:
    """How ``dataset``'s record says uploads are prepared; the generic fit for folders and unknown names."""
    record = find_record(dataset)
    return record.upload if record is not None else "fit"


def _to_mode(img: Image.Image, mode: str, background: int) -> Image.Image:
    """Convert any PIL mode to "L" or "RGB" with sensible results for the odd ones.

    16-bit and 32-bit greyscale are scaled (not clipped) to 8 bits; anything with transparency
    (RGBA, LA, PA, P or L with a transparent colour) is composited onto ``background``; CMYK, YCbCr,
    LAB, HSV, 1-bit and palette images go through PIL's own conversions.
    """
    img = to_8bit(img)
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (background,) * 3 + (255,))
        img = Image.alpha_composite(base, rgba).convert("RGB")
    return img if img.mode == mode else img.convert(mode)


def _like_sklearn_digits(img: Image.Image, size: int) -> np.ndarray:
    """Mirror core.data's ``digits``: 8x8 at 17 grey levels (0..16), then bilinear to size x size.

    Without this an upload would be far sharper than any training image, and look anomalous for
    that reason alone.
    """
    small = np.asarray(fit_square(img, 8), np.float64)
    levels = np.rint(small * (16.0 / 255.0))
    small = np.clip(np.rint(levels * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    if small.ndim == 2:
        return np.asarray(Image.fromarray(small).resize((size, size), Image.Resampling.BILINEAR))
    return np.asarray(Image.fromarray(small, "RGB").resize((size, size), Image.Resampling.BILINEAR))


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _unidentified_message(head: bytes) -> str:
    """Why PIL could not identify a file. PIL refuses zero-size images at this stage too, so a PNG
    header is read here to say that rather than "not an image"."""
    if head.startswith(_PNG_SIGNATURE) and head[12:16] == b"IHDR" and len(head) >= 24:
        w, h = struct.unpack(">II", head[16:24])
        if w == 0 or h == 0:
            return f"The image has zero size ({w} x {h} pixels)."
        return "The file starts like a PNG but its header is damaged."
    return "This file is not an image that can be read (expected PNG, JPEG, BMP or WebP)."


def _too_many_pixels_message(w: int | None = None, h: int | None = None) -> str:
    dims = f" ({w} x {h} pixels)" if w and h else ""
    return (f"The image is too large{dims}: more than {MAX_PIXELS // 1_000_000} megapixels, refused as a possible "
            "decompression bomb. Upload a smaller image.")


def _short(exc: BaseException, limit: int = 160) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------------------------
# One image through a detector


def should_invert(img: Image.Image, reference: np.ndarray) -> bool:
    """Whether an upload, for a greyscale model, has the opposite polarity of the training images.

    Digit sets are light strokes on black; a photo of ink on paper is the reverse and would be an
    anomaly for that reason alone. Compares the mean of the border (the background) of the upload as
    decoded, before :func:`to_dataset_shape` pads it with black, with that of the 2-pixel border of
    ``reference`` training images (N, H, W, 1); for colour models (C = 3) the answer is always no.
    """
    if reference.shape[-1] != 1 or reference.size == 0:
        return False
    grey = np.asarray(_to_mode(img, "L", 0), np.uint8)[None]
    width = max(1, round(min(grey.shape[1:]) / 16))  # 2 px of a 32 px image, in proportion
    return (_border_mean(grey, width) > 127.5) != (_border_mean(reference, 2) > 127.5)


def _border_mean(images: np.ndarray, width: int) -> float:
    """Mean grey level of the ``width``-pixel border of (N, H, W[, C]) images (their whole area if small)."""
    mask = np.ones(images.shape[1:3], bool)
    mask[width:-width, width:-width] = False
    return float(images[:, mask].mean())


@dataclass(frozen=True, eq=False)
class ImageReport:
    """What a detector makes of one image, for display: its matrix, its k versions, its score terms."""

    softmax: np.ndarray  # (k, k): row t = softmax of the classifier on T_t(x)
    transformed: np.ndarray  # (k, H, W, C) uint8: T_t(x), exactly what the classifier was shown
    contributions: np.ndarray  # (k,) per-transform terms of the Dirichlet score (sum = the score)

    @property
    def dirichlet(self) -> float:
        """GEOM's normality score (higher = more normal)."""
        return float(self.contributions.sum())

    @property
    def simple(self) -> float:
        """Mean probability of the right transform (higher = more normal)."""
        return float(np.diagonal(self.softmax).mean())

    @property
    def correct_prob(self) -> np.ndarray:
        """(k,) probability the classifier gives the transform that was applied."""
        return np.diagonal(self.softmax).copy()


def inspect_image(detector: GeomDetector, image: np.ndarray) -> ImageReport:
    """Run one uint8 (H, W, C) image through ``detector`` under every transform."""
    x = np.asarray(image)
    if x.dtype != np.uint8 or x.ndim != 3:
        raise ValueError(f"expected one uint8 image (H, W, C), got {x.dtype} {x.shape}")
    if detector.alphas is None:
        raise RuntimeError("inspect_image needs a fitted detector")
    softmax = detector.softmax_matrix(x[None])  # (1, k, k)
    moved = detector.transforms.apply_all(to_model_input(x[None]))  # (k, C, H, W) in [-1, 1]
    # x / 127.5 - 1 is inverted exactly by rounding, so these are the input pixels, moved.
    transformed = np.rint((moved.permute(0, 2, 3, 1).numpy() + 1.0) * 127.5).astype(np.uint8)
    return ImageReport(softmax[0], transformed, dirichlet_contributions(softmax, detector.alphas)[0])
