"""The Transforms page through AppTest against a tiny digits run (k = 72)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_fixtures import page_with_run

PICKS = ("most anomalous normal image", "most normal anomaly", "most normal normal image",
         "most anomalous anomaly", "a test image by number")


@pytest.fixture
def page(tiny_run, tiny_results_env) -> AppTest:
    at = page_with_run("transforms.py", tiny_run.path, timeout_s=120)
    assert not at.exception, at.exception
    return at


def image_picker(at: AppTest):
    return next(s for s in at.selectbox if s.label == "Image")


def test_renders_group_and_image_figures(page: AppTest, tiny_run) -> None:
    normal = tiny_run.scores()["is_normal"]
    assert [t.label for t in page.tabs][:2] == [f"Normal test images ({normal.sum()})",
                                                f"Anomalous test images ({(~normal).sum()})"]
    # 2 mean matrices + accuracy bars + one image's matrix, grid and contributions
    assert len(page.get("plotly_chart")) == 6
    assert any("Least recognised" in c.value for c in page.caption)
    assert image_picker(page).options == list(PICKS)


@pytest.mark.parametrize("how", PICKS[1:])
def test_every_pick_renders(page: AppTest, how: str) -> None:
    image_picker(page).set_value(how).run()
    assert not page.exception, page.exception
    assert len(page.get("plotly_chart")) == 6
    wants_anomaly = how.endswith("anomaly")
    assert any(("(anomaly)" if wants_anomaly else "(normal)") in m.value for m in page.markdown) or how == PICKS[-1]


def test_pick_by_number(page: AppTest, tiny_run) -> None:
    image_picker(page).set_value(PICKS[-1]).run()
    number = page.number_input[0]
    assert number.max == len(tiny_run.scores()["is_normal"]) - 1
    number.set_value(200).run()
    assert not page.exception
    index = int(tiny_run.scores()["test_index"][200])
    assert [c for img in page.image for c in img.captions] == [f"test image #{index}"]


def test_without_the_dataset_shows_the_group_figures_and_a_warning(tiny_run, tmp_path: Path, monkeypatch) -> None:
    """A run opened where its dataset is absent (e.g. trained on a GPU box) still shows its matrices."""
    import json
    import shutil

    run_path = tmp_path / "geom" / "elsewhere" / "3" / "tiny-seed0"
    shutil.copytree(tiny_run.path, run_path)
    meta = json.loads((run_path / "run.json").read_text())
    meta["dataset"] = f"folder:{tmp_path / 'absent'}"
    (run_path / "run.json").write_text(json.dumps(meta))
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(tmp_path))
    at = page_with_run("transforms.py", run_path, timeout_s=120)
    assert not at.exception, at.exception
    assert len(at.get("plotly_chart")) == 3  # two mean matrices and the accuracy bars
    assert any("not available here" in w.value for w in at.warning)
