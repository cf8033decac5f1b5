"""Images deeper than 8 bits per channel, brought to 8 bits by scaling: one rule for folder
datasets (core.data) and uploads (core.images), so an upload is prepared exactly like a training image.

PIL's own ``convert("L")`` / ``convert("RGB")`` clips 16- and 32-bit grey values at 255 instead of
scaling them: a 16-bit PNG collapses to a handful of grey levels and a detector silently trains on
near-binary images. 16-bit colour PNGs need nothing here: PIL opens them as 8-bit RGB(A) already,
keeping the high byte of each value (a scaling, within one level of this one).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

WIDE_GREY_MODES: frozenset[str] = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})
"""PIL modes of one channel wider than 8 bits: 16-bit PNGs open as I;16 (older Pillow: I)."""

_SIXTEEN_BIT_MAX = 65535.0


def to_8bit(img: Image.Image) -> Image.Image:
    """``img`` as 8-bit "L" when its mode is in :data:`WIDE_GREY_MODES`; any other image as it is.

    The scale is fixed by the mode, not stretched per image, so the images of one folder keep their
    relative brightness: integers are read as 16-bit (0..65535 -> 0..255, i.e. v / 257, the depth PNG
    stores them in), floats as 0..1. Only values beyond that range (32-bit integers, floats above 1)
    are scaled by the image's own maximum. Negative values and NaN become 0.
    """
    if img.mode not in WIDE_GREY_MODES:
        return img
    values = np.nan_to_num(np.asarray(img, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    full = 1.0 if img.mode == "F" else _SIXTEEN_BIT_MAX
    full = max(full, float(values.max()) if values.size else 0.0)
    return Image.fromarray(np.clip(np.rint(values * (255.0 / full)), 0, 255).astype(np.uint8), "L")
