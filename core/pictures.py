"""Section 6 results as files: a gradient-ascent strip or an attribution beside its image (.png),
or the arrays themselves (.npz).

Plain numpy and PIL, so the command line writes them without plotly. The signed maps are coloured
by :func:`signed_rgb` alone: white at zero, red where positive, blue where negative.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from core.ascent import to_uint8

if TYPE_CHECKING:
    from core.ascent import AscentResult
    from core.explain import Attribution


def signed_rgb(values: np.ndarray, floor: float) -> np.ndarray:
    """(H, W) signed values -> uint8 (H, W, 3): white at 0, full red / blue at the largest magnitude
    (at least ``floor``, so an all-zero map stays white instead of dividing by zero)."""
    lim = max(float(np.abs(values).max()), floor)
    red = np.clip(255 * values / lim, 0, 255)
    blue = np.clip(-255 * values / lim, 0, 255)
    return np.stack([255 - blue, 255 - red - blue, 255 - red], -1).clip(0, 255).astype(np.uint8)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image, 3, -1) if image.shape[-1] == 1 else image


def _save_strip(tiles: list[np.ndarray], path: Path, scale: int) -> None:
    """Tiles side by side with a 2-pixel white gap, enlarged ``scale`` times without smoothing."""
    gap = np.full((tiles[0].shape[0], 2, 3), 255, np.uint8)
    strip = np.concatenate([t for tile in tiles for t in (tile, gap)][:-1], axis=1)
    Image.fromarray(strip).resize((strip.shape[1] * scale, strip.shape[0] * scale), Image.Resampling.NEAREST).save(path)


def write_ascent(result: AscentResult, out: str) -> None:
    """.npz: frames, their steps, the difference and the score curves; .png: the first image's
    frames, then its difference (red: ink added)."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".npz":
        np.savez_compressed(path, frames=result.frames, frame_steps=np.array(result.frame_steps),
                            difference=result.difference, **{f"curve_{m}": c for m, c in result.curves.items()})
        return
    frames = to_uint8(result.frames[:, 0])  # (F, H, W, C) of the first image
    _save_strip([_as_rgb(f) for f in frames] + [signed_rgb(result.difference[0].sum(0), 1e-6)], path, 3)


def write_attribution(attr: Attribution, image: np.ndarray, out: str) -> None:
    """.npz: the maps and values; .png: the image beside its attribution map."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".npz":
        np.savez_compressed(path, maps=attr.maps, value=attr.value, baseline_value=attr.baseline_value,
                            image=image, **({} if attr.delta is None else {"delta": attr.delta}))
        return
    _save_strip([_as_rgb(image), signed_rgb(attr.pixel_maps()[0], 1e-12)], path, 4)
