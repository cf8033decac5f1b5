"""The run's saved threshold on the Scores and Score-your-image pages: its verdict, TPR and FPR beside
the slider, and what a run without one says."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.detector import GeomDetector
from core.images import load_image_file
from core.metrics import rates_at_threshold
from core.threshold import THRESHOLD_KEY, saved_threshold
from tests.app_fixtures import copy_run, exceptions, page_with_run

TIMEOUT_S = 180  # the first run imports torch and loads digits on a busy 2-core CPU
NO_THRESHOLD_SAID = "This run has no saved threshold: retrain to get one."


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


def charts_json(at: AppTest) -> str:
    return "\n".join(chart.proto.spec for chart in at.get("plotly_chart"))


@pytest.fixture
def run_without_threshold(tiny_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny run as written before runs kept a threshold (run.json without the record)."""
    old = copy_run(tiny_run.path, tmp_path)
    meta = json.loads((old / "run.json").read_text())
    del meta[THRESHOLD_KEY]
    (old / "run.json").write_text(json.dumps(meta))
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(tmp_path))
    return old


def test_scores_page_shows_the_saved_thresholds_rates(tiny_run, tiny_results_env: Path) -> None:
    at = page_with_run("scores.py", tiny_run.path, TIMEOUT_S)
    assert not exceptions(at)
    saved = saved_threshold(tiny_run.meta)
    scores = tiny_run.scores()
    rates = rates_at_threshold(scores["is_normal"], scores["dirichlet"], saved.normality)
    shown = metrics(at)
    assert shown["Saved threshold: TPR"] == f"{100 * rates['tpr']:.1f}%"
    assert shown["Saved threshold: FPR"] == f"{100 * rates['fpr']:.1f}%"
    assert f"5% of {saved.held_out_images} normal training images held out" in captions(at)
    assert "saved threshold" in charts_json(at)  # marked on the histogram
    at = at.slider[0].set_value(at.slider[0].min).run()  # the slider moves, the saved threshold stays
    assert metrics(at)["Saved threshold: TPR"] == shown["Saved threshold: TPR"]
    at = at.radio[0].set_value("simple").run()
    assert not exceptions(at) and "Saved threshold: TPR" not in metrics(at)
    assert "saved threshold is on the Dirichlet score" in captions(at)


def test_scores_page_says_an_old_run_has_no_threshold(run_without_threshold: Path) -> None:
    at = page_with_run("scores.py", run_without_threshold, TIMEOUT_S)
    assert not exceptions(at)
    assert NO_THRESHOLD_SAID in captions(at)
    assert not any(label.startswith("Saved threshold") for label in metrics(at))
    assert "saved threshold" not in charts_json(at)


def test_scores_page_of_normal_only_scores_says_what_the_threshold_flags(tiny_run, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    run = copy_run(tiny_run.path, tmp_path)  # the same run, its test set cut to its normal images
    with np.load(run / "scores.npz") as z:
        arrays = {k: z[k] for k in z.files}
    keep = arrays["is_normal"]
    n = len(keep)
    np.savez(run / "scores.npz", **{k: v[keep] if v.ndim and len(v) == n else v for k, v in arrays.items()})
    (run / "metrics.json").write_text("{}")
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(tmp_path))
    at = page_with_run("scores.py", run, TIMEOUT_S)
    assert not exceptions(at)
    saved = saved_threshold(tiny_run.meta)
    flagged = np.mean(arrays["dirichlet"][keep] < saved.normality)
    assert f"It calls {100 * flagged:.1f}% of these normal test images anomalous" in captions(at)


def png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def upload(at: AppTest, data: bytes) -> AppTest:
    at.file_uploader[0].set_value(("image.png", data, "image/png"))
    at.run()
    assert not exceptions(at)
    return at


def test_upload_page_gives_the_saved_thresholds_verdict(tiny_run, tiny_results_env: Path) -> None:
    from core.data import load_dataset

    digits = load_dataset("digits")
    det = GeomDetector.load(tiny_run.model_path, "cpu")
    at = page_with_run("upload.py", tiny_run.path, TIMEOUT_S)
    for image in (digits.x_test[np.flatnonzero(digits.y_test == 3)[0]][..., 0],
                  digits.x_test[np.flatnonzero(digits.y_test == 0)[0]][..., 0]):
        data = png(image)
        at = upload(at, data)
        expected = "anomaly" if det.predict(load_image_file(data, 1, 32, "digits")[None])[0] else "normal"
        assert metrics(at)["Saved threshold's verdict"] == expected
        assert "(TPR)" in captions(at) and "(FPR)" in captions(at)
    at = at.radio[0].set_value("simple").run()
    assert "Saved threshold's verdict" not in metrics(at)
    assert "saved threshold is on the Dirichlet score" in captions(at)


def test_upload_page_says_an_old_run_has_no_threshold(run_without_threshold: Path) -> None:
    at = page_with_run("upload.py", run_without_threshold, TIMEOUT_S)
    at = upload(at, png(np.zeros((32, 32), np.uint8)))
    assert NO_THRESHOLD_SAID in captions(at) and "Saved threshold's verdict" not in metrics(at)
