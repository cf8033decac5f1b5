"""The Transforms page through AppTest against a tiny digits run (k = 72)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_fixtures import app_on_image, page_with_run, thinned_run

PICKS = ("most anomalous normal image", "most normal anomaly", "most normal normal image",
         "most anomalous anomaly", "a test image by number")


@pytest.fixture
def page(tiny_run, tiny_results_env) -> AppTest:
    at = page_with_run("transforms.py", tiny_run.path, timeout_s=120)
    assert not at.exception, at.exception
    return at


def image_picker(at: AppTest):
    return next(s for s in at.selectbox if s.label == "Image")


def chart_specs(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_renders_group_and_image_figures(page: AppTest, tiny_run) -> None:
    normal = tiny_run.scores()["is_normal"]
    specs = chart_specs(page)
    # normal, anomalous and their difference side by side + accuracy bars + one image's matrix, grid, terms
    assert len(specs) == 7 and not page.tabs
    assert [s["layout"]["title"]["text"] for s in specs[:3]] == [
        f"Normal ({normal.sum()})", f"Anomalous ({(~normal).sum()})", "Normal − anomalous"]
    assert specs[2]["data"][0]["zmid"] == 0
    assert any("Least recognised" in c.value for c in page.caption)
    assert image_picker(page).options == list(PICKS)


@pytest.mark.parametrize("how", PICKS[1:])
def test_every_pick_renders(page: AppTest, how: str) -> None:
    image_picker(page).set_value(how).run()
    assert not page.exception, page.exception
    assert len(page.get("plotly_chart")) == 7
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


@pytest.fixture
def thinned(tiny_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the tiny run that scored only odd-numbered test images, in the app's results folder."""
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(tmp_path / "results"))
    return thinned_run(tiny_run.path, tmp_path / "results")


def thumbnail_captions(at: AppTest) -> list[str]:
    return [c for img in at.image for c in img.captions]


def test_number_box_and_caption_use_the_dataset_index(thinned: Path) -> None:
    """The number typed is the number shown (and the one every gallery tile shows), not a position."""
    at = page_with_run("transforms.py", thinned, timeout_s=120)
    image_picker(at).set_value(PICKS[-1]).run()
    number = at.number_input[0]
    assert (number.min, number.max) == (1, 359)
    number.set_value(201).run()
    assert not at.exception, at.exception
    assert thumbnail_captions(at) == ["test image #201"]
    assert any("image=201" in c.value and "attribution?" in c.value for c in at.caption)
    number.set_value(200).run()  # in the dataset, but not scored by this run
    assert any("#200 is not among the 180 images" in w.value for w in at.warning)


def test_a_link_opens_its_image(thinned: Path) -> None:
    at = app_on_image("transforms.py", thinned, "7", timeout_s=120)
    assert not at.exception, at.exception
    assert image_picker(at).value == PICKS[-1] and at.number_input[0].value == 7
    assert thumbnail_captions(at) == ["test image #7"]


@pytest.mark.parametrize("image", ["8", "9999", "seven"])
def test_a_link_to_an_unscored_image_is_refused_with_a_message(thinned: Path, image: str) -> None:
    at = app_on_image("transforms.py", thinned, image, timeout_s=120)
    assert not at.exception, at.exception
    assert any(f"test image '{image}', which this run did not score" in e.value for e in at.error)
    assert image_picker(at).value == PICKS[0]  # the page's usual first image, shown after saying so


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
    assert len(at.get("plotly_chart")) == 4  # two mean matrices, their difference and the accuracy bars
    assert any("not available here" in w.value for w in at.warning)


def test_home_and_transforms_pages_draw_the_transforms_in_one_order(page: AppTest, tiny_run) -> None:
    """The Home grid, the mean matrices, the bars and the one image's matrix, grid and terms: the same
    sequence of transforms, the one of explorer.figures.order, and blocks named on the matrices' axes."""
    from core.transforms import TransformSet
    from explorer.figures.order import transform_order
    from tests.app_fixtures import open_page

    expected = transform_order(TransformSet.paper(32)).names
    specs = chart_specs(page)

    def grid(spec: dict) -> list[str]:
        return [h.split("<br>")[0].split(" ", 1)[1] for h in spec["data"][1]["hovertext"]]

    matrices = [[row[0][0] for row in s["data"][0]["customdata"]] for i, s in enumerate(specs) if i in (0, 1, 2, 4)]
    bars = [list(specs[i]["data"][0]["customdata"]) for i in (3, 6)]
    home = grid(chart_specs(open_page(page, "home.py"))[0])
    for names in (*matrices, *bars, grid(specs[5]), home):
        assert names == expected
    assert specs[0]["layout"]["yaxis"]["ticktext"] == ["0°", "90°", "180°", "270°", "flip 0°", "flip 90°",
                                                       "flip 180°", "flip 270°"]
