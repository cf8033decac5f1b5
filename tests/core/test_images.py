"""core.images: uploads in every common shape become dataset-shaped uint8, bad files a clear error."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from core.bitdepth import to_8bit
from core.images import MAX_FILE_BYTES, ImageFileError, load_image_file


def encode(img: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A syntactically valid PNG that claims any canvas size and holds no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def rgb_pattern(h: int = 32, w: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# ----- good files ------------------------------------------------------------------------------


def test_rgb_png_at_size_is_kept_exactly() -> None:
    x = rgb_pattern()
    out = load_image_file(encode(Image.fromarray(x)), channels=3, size=32)
    assert out.dtype == np.uint8 and out.shape == (32, 32, 3)
    np.testing.assert_array_equal(out, x)


def test_rgb_to_one_channel_uses_pil_luma_like_training_data() -> None:
    x = rgb_pattern()
    out = load_image_file(encode(Image.fromarray(x)), channels=1, size=32)
    assert out.shape == (32, 32, 1)
    np.testing.assert_array_equal(out[..., 0], np.asarray(Image.fromarray(x).convert("L")))


def test_rgba_png_composites_transparency_onto_background() -> None:
    x = np.zeros((32, 32, 4), np.uint8)
    x[..., :3] = 200  # colour hidden under transparency must not leak through
    x[:16, :, 3] = 255
    x[:16, :, :3] = (10, 120, 250)
    data = encode(Image.fromarray(x, "RGBA"))
    out = load_image_file(data, channels=3, size=32)
    np.testing.assert_array_equal(out[:16], np.broadcast_to([10, 120, 250], (16, 32, 3)))
    np.testing.assert_array_equal(out[16:], 0)
    white = load_image_file(data, channels=3, size=32, background=255)
    np.testing.assert_array_equal(white[16:], 255)


def test_palette_png_with_transparency() -> None:
    img = Image.new("P", (32, 32), 1)
    img.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    img.paste(0, (0, 0, 32, 8))  # red stripe on top, the rest palette entry 1 (green) = transparent
    out = load_image_file(encode(img, transparency=1), channels=3, size=32)
    np.testing.assert_array_equal(out[:8], np.broadcast_to([255, 0, 0], (8, 32, 3)))
    np.testing.assert_array_equal(out[8:], 0)
    opaque = load_image_file(encode(img), channels=3, size=32)
    np.testing.assert_array_equal(opaque[8:], np.broadcast_to([0, 255, 0], (24, 32, 3)))


def test_sixteen_bit_png_is_scaled_not_clipped() -> None:
    x = np.linspace(0, 65535, 32 * 32).reshape(32, 32).astype(np.uint16)
    data = encode(Image.fromarray(x))
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    out = load_image_file(data, channels=1, size=32)[..., 0]
    np.testing.assert_allclose(out, x / 257.0, atol=0.51)
    assert 100 < out[16, 0] < 155  # mid grey stays mid grey (convert("L") would give 255)


def test_dark_sixteen_bit_png_stays_dark() -> None:
    """The scale is the mode's (16 bits), not the image's: a 16-bit image using only 0..255 is nearly black."""
    x = np.linspace(0, 255, 32 * 32).reshape(32, 32).astype(np.uint16)
    out = load_image_file(encode(Image.fromarray(x)), channels=1, size=32)
    assert out.max() == 1


@pytest.mark.parametrize("mode,values,expected", [
    ("I;16", np.array([[0, 257, 32896, 65535]], np.uint16), [0, 1, 128, 255]),
    ("I", np.array([[0, 257, 32896, 65535]], np.int32), [0, 1, 128, 255]),
    ("I", np.array([[-5, 0, 65535, 131070]], np.int32), [0, 0, 128, 255]),  # beyond 16 bits: by the maximum
    ("F", np.array([[0.0, 0.5, 1.0, np.nan]], np.float32), [0, 128, 255, 0]),
    ("F", np.array([[0.0, 2.0, 4.0, -1.0]], np.float32), [0, 128, 255, 0]),
])
def test_to_8bit_scales_by_the_mode_range(mode, values, expected) -> None:
    img = Image.fromarray(values, mode) if mode != "I;16" else Image.fromarray(values)
    assert img.mode == mode
    out = to_8bit(img)
    assert out.mode == "L" and np.asarray(out).ravel().tolist() == expected


def test_eight_bit_images_pass_through_to_8bit_untouched() -> None:
    img = Image.fromarray(rgb_pattern())
    assert to_8bit(img) is img


def test_upload_and_folder_dataset_prepare_a_sixteen_bit_png_alike(tmp_path) -> None:
    """One conversion for both: an upload of a training image is that training image."""
    from core.data import load_dataset

    x = np.random.default_rng(3).integers(0, 65536, (40, 40), dtype=np.uint16)
    data = encode(Image.fromarray(x))
    for split in ("train", "test"):
        for cls in ("a", "b"):
            (tmp_path / split / cls).mkdir(parents=True)
            (tmp_path / split / cls / "0.png").write_bytes(data)
    ds = load_dataset(f"folder:{tmp_path}")
    np.testing.assert_array_equal(load_image_file(data, channels=1, size=32), ds.x_train[0])
    assert len(np.unique(ds.x_train[0])) > 100


def test_greyscale_alpha_and_one_bit_modes() -> None:
    la = Image.fromarray(np.full((32, 32, 2), 255, np.uint8), "LA")
    assert load_image_file(encode(la), channels=1, size=32).max() == 255
    bits = Image.fromarray(np.eye(32, dtype=bool))
    out = load_image_file(encode(bits), channels=1, size=32)[..., 0]
    np.testing.assert_array_equal(out, np.eye(32, dtype=np.uint8) * 255)


def test_jpeg_and_cmyk_jpeg_decode_close_to_the_original() -> None:
    x = np.full((32, 32, 3), (40, 160, 220), np.uint8)
    for img in (Image.fromarray(x), Image.fromarray(x).convert("CMYK")):
        out = load_image_file(encode(img, "JPEG", quality=95), channels=3, size=32)
        assert out.shape == (32, 32, 3)
        assert np.abs(out.astype(int) - x).max() <= 8


def test_non_square_is_scaled_on_short_side_and_centre_cropped() -> None:
    x = np.zeros((64, 128, 3), np.uint8)
    x[:, 32:96] = 255  # the centre square is white, the side bands black
    out = load_image_file(encode(Image.fromarray(x)), channels=3, size=32)
    assert out.shape == (32, 32, 3) and out.min() == 255


def test_small_image_is_enlarged() -> None:
    out = load_image_file(encode(Image.fromarray(rgb_pattern(8, 8))), channels=3, size=64)
    assert out.shape == (64, 64, 3)


def test_mnist_like_resizes_to_28_and_pads_black() -> None:
    white = encode(Image.fromarray(np.full((100, 100), 255, np.uint8)))
    for name in ("mnist", "fashion_mnist", "Fashion-MNIST"):
        out = load_image_file(white, channels=1, size=32, dataset=name)[..., 0]
        assert out.shape == (32, 32)
        assert out[2:30, 2:30].min() == 255
        inner = np.zeros((32, 32), bool)
        inner[2:30, 2:30] = True
        assert out[~inner].max() == 0


def test_digits_upload_of_a_dataset_image_reproduces_it() -> None:
    """An 8x8 sklearn digit uploaded as PNG comes out exactly as core.data built it."""
    from sklearn.datasets import load_digits

    small = np.clip(np.rint(load_digits().images[5] * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    expected = np.asarray(Image.fromarray(small).resize((32, 32), Image.Resampling.BILINEAR))
    out = load_image_file(encode(Image.fromarray(small)), channels=1, size=32, dataset="digits")
    np.testing.assert_array_equal(out[..., 0], expected)


def test_exif_orientation_is_applied() -> None:
    x = rgb_pattern(16, 32)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display rotated 90 degrees clockwise
    out = load_image_file(encode(Image.fromarray(x), exif=exif), channels=3, size=32)[:, 8:24]
    upright = np.rot90(x, k=-1)  # (32, 16, 3)
    expected = load_image_file(encode(Image.fromarray(np.ascontiguousarray(upright))), channels=3, size=32)[:, 8:24]
    np.testing.assert_array_equal(out, expected)


def test_animated_gif_uses_the_first_frame() -> None:
    frames = [Image.fromarray(np.full((32, 32), v, np.uint8)) for v in (30, 220)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    out = load_image_file(buf.getvalue(), channels=1, size=32)
    assert abs(int(out.mean()) - 30) <= 2


# ----- bad files -------------------------------------------------------------------------------


def test_text_file_is_not_an_image() -> None:
    with pytest.raises(ImageFileError, match="not an image"):
        load_image_file(b"just some text, not pixels\n" * 10, channels=3, size=32)


def test_truncated_png_is_reported() -> None:
    data = encode(Image.fromarray(rgb_pattern(128, 128)))
    with pytest.raises(ImageFileError, match="truncated or corrupt"):
        load_image_file(data[: len(data) // 2], channels=3, size=32)


def test_damaged_header_is_reported() -> None:
    data = encode(Image.fromarray(rgb_pattern()))
    with pytest.raises(ImageFileError):
        load_image_file(data[:20], channels=3, size=32)


def test_empty_file() -> None:
    with pytest.raises(ImageFileError, match="empty"):
        load_image_file(b"", channels=3, size=32)


def test_zero_size_image() -> None:
    with pytest.raises(ImageFileError, match="zero size"):
        load_image_file(png_header_only(0, 10), channels=3, size=32)


@pytest.mark.parametrize("side", [8_000, 10_000, 100_000])  # ours (50 Mpx), PIL's warning, PIL's error
def test_huge_canvas_is_refused_from_the_header(side: int) -> None:
    with pytest.raises(ImageFileError, match="too large"):
        load_image_file(png_header_only(side, side), channels=3, size=32)


def test_file_over_the_byte_limit_is_refused_before_decoding() -> None:
    with pytest.raises(ImageFileError, match="limit is 20 MB"):
        load_image_file(b"\x89PNG" + bytes(MAX_FILE_BYTES), channels=3, size=32)


def test_errors_are_value_errors_and_bad_arguments_are_not_file_errors() -> None:
    assert issubclass(ImageFileError, ValueError)
    data = encode(Image.fromarray(rgb_pattern()))
    with pytest.raises(ValueError) as info:
        load_image_file(data, channels=2, size=32)
    assert not isinstance(info.value, ImageFileError)
    with pytest.raises(TypeError):
        load_image_file("not bytes", channels=3, size=32)  # type: ignore[arg-type]


# ----- one image through a detector ------------------------------------------------------------


def untrained_detector(transforms: str = "flip_rot8"):
    """A detector with random weights and flat alphas: enough to check shapes and bookkeeping."""
    from core.config import GeomConfig
    from core.detector import GeomDetector
    from core.train import build_model

    det = GeomDetector(GeomConfig(depth=10, width=1, transforms=transforms, in_channels=1, precision="fp32"), "cpu")
    det.model = build_model(det.config).eval()
    k = len(det.transforms)
    det.alphas = np.random.default_rng(0).uniform(0.5, 3.0, (k, k))
    return det


def test_inspect_image_matches_the_detector_and_the_transforms() -> None:
    from core.images import inspect_image
    from core.transforms import apply_numpy

    det = untrained_detector()
    x = np.random.default_rng(2).integers(0, 256, (32, 32, 1), dtype=np.uint8)
    report = inspect_image(det, x)
    k = len(det.transforms)
    assert report.softmax.shape == (k, k) and report.transformed.shape == (k, 32, 32, 1)
    assert report.transformed.dtype == np.uint8
    for t, transform in enumerate(det.transforms.transforms):
        np.testing.assert_array_equal(report.transformed[t], apply_numpy(x, transform))
    assert report.dirichlet == pytest.approx(float(det.score(x[None])[0]), rel=1e-6)
    assert report.simple == pytest.approx(float(det.score(x[None], "simple")[0]), rel=1e-6)
    np.testing.assert_allclose(report.correct_prob, np.diagonal(report.softmax))
    with pytest.raises(ValueError, match="one uint8 image"):
        inspect_image(det, x[None])


def test_should_invert_compares_background_polarity() -> None:
    from core.images import should_invert

    dark_refs = np.zeros((4, 32, 32, 1), np.uint8)
    paper = Image.fromarray(np.full((32, 32), 240, np.uint8))
    assert should_invert(paper, dark_refs)
    assert not should_invert(Image.fromarray(np.zeros((32, 32), np.uint8)), dark_refs)
    assert not should_invert(paper, 255 - dark_refs)
    assert not should_invert(Image.fromarray(np.full((32, 32, 3), 240, np.uint8)), np.zeros((4, 32, 32, 3), np.uint8))


def _drawn_digit(side: int = 280) -> np.ndarray:
    """A thick white '7' on black, at phone-photo resolution."""
    a = np.zeros((side, side), np.uint8)
    s = side // 10
    a[2 * s:3 * s, 2 * s:8 * s] = 255
    for r in range(3 * s, 8 * s):
        c = 8 * s - (r - 3 * s) // 2
        a[r, c - s:c] = 255
    return a


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_black_on_white_upload_is_inverted_before_padding(dataset: str) -> None:
    """Ink on paper must reach the model as the same image as light strokes on black: polarity is
    judged on the upload itself (padding would make any border black) and the inversion happens
    before the black padding, which must stay black rather than become a white frame."""
    from core.images import should_invert, to_dataset_shape

    white_on_black = Image.fromarray(_drawn_digit())
    ink_on_paper = Image.fromarray(255 - _drawn_digit())
    training = np.zeros((4, 32, 32, 1), np.uint8)  # the digit sets' black background
    assert should_invert(ink_on_paper, training) and not should_invert(white_on_black, training)
    expected = to_dataset_shape(white_on_black, 1, 32, dataset)
    got = to_dataset_shape(ink_on_paper, 1, 32, dataset, invert=should_invert(ink_on_paper, training))
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 2
    border = np.ones((32, 32), bool)
    border[2:-2, 2:-2] = False
    assert got[border].max() == 0


def test_describe_preparation_names_each_pipeline() -> None:
    from core.images import describe_preparation

    assert "2-pixel black border" in describe_preparation(1, 32, "fashion_mnist")
    assert "8 x 8" in describe_preparation(1, 32, "digits")
    generic = describe_preparation(3, 64, "cats_vs_dogs")
    assert generic.startswith("colour") and "64 x 64" in generic
