"""Image grids: a batch of uint8 images (N, H, W, C) with captions, as arrays or one plotly figure.

Small images (28-32 px) are enlarged by pixel repetition rather than browser smoothing, so digits
and transforms stay crisp. A grid figure is one mosaic image plus text annotations: a single
PNG-encoded trace renders far faster than one image trace per tile (72 tiles for the transforms).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
import plotly.express as px
import plotly.graph_objects as go

from explorer.figures.style import HIGHLIGHT_COLOR


def _check(images: np.ndarray) -> np.ndarray:
    x = np.asarray(images)
    if x.ndim == 3:  # (N, H, W) grayscale
        x = x[..., None]
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(f"expected uint8 images (N, H, W, C) with C in {{1, 3}}, got {x.dtype} {x.shape}")
    return x


def enlarge(images: np.ndarray, min_side: int = 96) -> np.ndarray:
    """Repeat pixels so each image is at least ``min_side`` pixels tall (no blur)."""
    x = _check(images)
    factor = max(1, -(-min_side // x.shape[1]))
    return x.repeat(factor, axis=1).repeat(factor, axis=2) if factor > 1 else x


def display_images(images: np.ndarray, min_side: int = 96) -> list[np.ndarray]:
    """Images ready for ``st.image``: enlarged, grayscale as 2-D arrays (st.image wants H x W)."""
    x = enlarge(images, min_side)
    return [im[..., 0] if im.shape[-1] == 1 else im for im in x]


def on_mat(image: np.ndarray, min_side: int = 96, colour: str = HIGHLIGHT_COLOR, margin: int = 12) -> np.ndarray:
    """One image enlarged and set on a coloured mat, as RGB for ``st.image``.

    Shown on a page's white background, a white frame around an image (or a black one on a dark
    theme) is invisible; on a colour that no grey level can take, every edge pixel shows.
    """
    x = enlarge(image[None], min_side)[0]
    rgb = np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x
    fill = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], np.uint8)
    out = np.empty((rgb.shape[0] + 2 * margin, rgb.shape[1] + 2 * margin, 3), np.uint8)
    out[:] = fill
    out[margin:margin + rgb.shape[0], margin:margin + rgb.shape[1]] = rgb
    return out


def mosaic(images: np.ndarray, ncols: int, pad: int = 2, fill: int = 255) -> np.ndarray:
    """Tile a batch into one (rows*(H+pad)-pad, cols*(W+pad)-pad, C) image, row-major."""
    x = _check(images)
    n, h, w, c = x.shape
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    out = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad, c), fill, np.uint8)
    for i in range(n):
        r, col = divmod(i, ncols)
        out[r * (h + pad): r * (h + pad) + h, col * (w + pad): col * (w + pad) + w] = x[i]
    return out


def image_grid(images: np.ndarray, captions: Sequence[str] | None = None, ncols: int = 8,
               tile_px: int = 96, caption_px: int = 30, font_size: int = 10, title: str | None = None) -> go.Figure:
    """A labelled grid of images as one plotly figure; captions sit under their tiles.

    Long captions wrap onto a second line (``<br>``); hovering a tile shows nothing, the caption is
    the information.
    """
    x = _check(images)
    n, h, w, _ = x.shape
    if captions is not None and len(captions) != n:
        raise ValueError(f"{n} images but {len(captions)} captions")
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    pad = max(1, h // 16)
    gap = max(caption_px * h // tile_px, 0) if captions is not None else 0
    # Leave a caption band under every row by padding each tile at the bottom.
    tiles = np.full((n, h + gap, w, x.shape[-1]), 255, np.uint8)
    tiles[:, :h] = x
    canvas = mosaic(tiles, ncols, pad)
    rgb = canvas if canvas.shape[-1] == 3 else np.repeat(canvas, 3, axis=-1)
    fig = px.imshow(rgb, binary_string=True)
    fig.update_traces(hoverinfo="skip", hovertemplate=None)
    if captions is not None:
        for i, text in enumerate(captions):
            r, col = divmod(i, ncols)
            fig.add_annotation(x=col * (w + pad) + w / 2, y=r * (h + gap + pad) + h + 1, yanchor="top",
                               text="<br>".join(textwrap.wrap(str(text), 14)) or " ", showarrow=False,
                               font=dict(size=font_size), align="center")
    scale = tile_px / h
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    top = 40 if title else 5
    fig.update_layout(title=title, margin=dict(l=5, r=5, t=top, b=5),
                      width=int(ncols * (w + pad) * scale) + 10,
                      height=int(nrows * (h + gap + pad) * scale) + top + 5)
    return fig
