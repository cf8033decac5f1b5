"""Image arrays for st.image from explorer.figures.gallery."""

from __future__ import annotations

import numpy as np

from explorer.figures.gallery import on_mat


def test_on_mat_makes_a_white_frame_visible() -> None:
    """An image whose border is white must not blend into the page: its edge differs from the mat."""
    framed = np.zeros((32, 32, 1), np.uint8)
    framed[:2], framed[-2:], framed[:, :2], framed[:, -2:] = 255, 255, 255, 255
    out = on_mat(framed, min_side=64, colour="#9467bd", margin=5)
    assert out.shape == (74, 74, 3) and out.dtype == np.uint8
    assert tuple(out[0, 0]) == (0x94, 0x67, 0xBD)  # the mat
    assert tuple(out[5, 5]) == (255, 255, 255)  # the image's white frame, on it
    assert tuple(out[37, 37]) == (0, 0, 0)


def test_on_mat_keeps_colour_images() -> None:
    image = np.full((8, 8, 3), (10, 20, 30), np.uint8)
    out = on_mat(image, min_side=8, margin=1)
    assert out.shape == (10, 10, 3) and tuple(out[1, 1]) == (10, 20, 30)
