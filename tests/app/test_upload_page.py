"""The "Score your own image" page, driven through AppTest with real uploads against a tiny run."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.app_fixtures import page_with_run


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def page(tiny_run, tiny_results_env) -> AppTest:
    """The upload page of the app with the tiny digits run chosen, nothing uploaded yet."""
    at = page_with_run("upload.py", tiny_run.path, timeout_s=120)
    assert not at.exception
    return at


def upload(at: AppTest, name: str, data: bytes, mime: str = "image/png") -> AppTest:
    at.file_uploader[0].set_value((name, data, mime))
    at.run()
    assert not at.exception, at.exception
    return at


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def test_asks_for_an_upload(page: AppTest) -> None:
    assert page.file_uploader[0].allowed_type == [".png", ".jpg", ".jpeg", ".bmp", ".webp"]
    assert any("Upload" in i.value for i in page.info)


def test_good_image_is_scored_and_placed_on_the_normal_distribution(page: AppTest) -> None:
    from core.data import load_dataset

    ds = load_dataset("digits")
    three = ds.x_test[np.flatnonzero(ds.y_test == 3)[0]][..., 0]
    upload(page, "three.png", png_bytes(three))
    assert errors(page) == []
    assert page.metric[0].label == "Dirichlet score"
    verdicts = [m.value for m in (*page.success, *page.warning) if "at this threshold" in m.value]
    assert len(verdicts) == 1
    assert any("percentile" in m.value for m in page.markdown)
    charts = page.get("plotly_chart")
    assert len(charts) >= 1  # the histogram (the expander's charts render too)


def test_switching_score_and_threshold_reuses_the_upload(page: AppTest) -> None:
    upload(page, "noise.png", png_bytes(np.random.default_rng(0).integers(0, 256, (32, 32), dtype=np.uint8)))
    page.radio[0].set_value("simple").run()
    assert not page.exception and page.metric[0].label == "simplified score"
    page.slider[0].set_value(0.5).run()
    assert not page.exception
    assert any("50% of the normal" in m.value for m in page.markdown)


def test_colour_photo_on_white_is_converted_and_inverted_for_digits(page: AppTest) -> None:
    photo = np.full((120, 200, 3), 250, np.uint8)
    photo[30:90, 90:110] = (20, 20, 60)  # a dark stroke on white paper
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, format="JPEG")
    upload(page, "photo.jpg", buf.getvalue(), "image/jpeg")
    assert errors(page) == []
    invert = [c for c in page.checkbox if c.label == "Invert grey levels"]
    assert invert and invert[0].value is True  # digits are light on dark


def test_text_file_gives_an_error_not_a_traceback(page: AppTest) -> None:
    # The uploader filters by extension, so a non-image arrives under an image's name.
    upload(page, "notes.png", b"this is a text file, not a picture\n")
    assert any("not an image" in e for e in errors(page))
    assert not page.metric


def test_truncated_png_gives_an_error(page: AppTest) -> None:
    data = png_bytes(np.random.default_rng(1).integers(0, 256, (96, 96), dtype=np.uint8))
    upload(page, "cut.png", data[: len(data) // 2])
    assert any("truncated" in e for e in errors(page))
    assert not page.metric


def test_score_matches_the_detector(page: AppTest, tiny_run) -> None:
    """The page's number is the detector's own score of the prepared image."""
    from core.detector import GeomDetector
    from core.images import load_image_file

    img = np.zeros((32, 32), np.uint8)
    img[8:24, 12:20] = 255
    data = png_bytes(img)
    upload(page, "bar.png", data)
    det = GeomDetector.load(tiny_run.model_path)
    x = load_image_file(data, 1, 32, "digits")
    expected = float(det.score(x[None])[0])
    shown = float(page.metric[0].value.replace(",", ""))
    assert shown == pytest.approx(expected, rel=1e-3, abs=0.1)


def test_sixteen_bit_png_is_shown_and_scored(page: AppTest) -> None:
    """Showing the original used to fail: 'cannot write mode I;16 as JPEG'."""
    x = np.linspace(0, 65535, 48 * 48).reshape(48, 48).astype(np.uint16)
    upload(page, "deep.png", png_bytes(x))
    assert errors(page) == []
    assert page.metric[0].label == "Dirichlet score"
    assert any("deep.png (48 x 48 px, mode I;16)" in str(el.proto) for el in page.get("image"))  # the original, shown
