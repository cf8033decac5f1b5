"""One image, one number, one click: gallery tiles show the dataset test index and link to the image's
Transforms and Attributions views, which open on it. Driven with a run that scored only the odd-numbered
test images, so a position in the scores can never pass for a dataset index."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from core.runs import read_run
from core.scores import RunScores
from tests.app_fixtures import app_on_image, exceptions, page_with_run, thinned_run

TIMEOUT_S = 180
LINK = re.compile(r"\[(\w+)\]\((\w+)\?([^)]*)\)")


@pytest.fixture
def thinned(tiny_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(tmp_path / "results"))
    return thinned_run(tiny_run.path, tmp_path / "results")


def links(text: str) -> list[tuple[str, str, int]]:
    """(page, run, image) of every markdown link in ``text``."""
    out = []
    for _, page, query in LINK.findall(text):
        params = parse_qs(query)
        out.append((page, params["run"][0], int(params["image"][0])))
    return out


def test_scores_gallery_tiles_show_and_link_the_dataset_index(thinned: Path) -> None:
    at = page_with_run("scores.py", thinned, TIMEOUT_S)
    assert not exceptions(at), exceptions(at)
    s = RunScores.of(read_run(thinned))
    most_normal = [int(i) for i in s.test_index[s.ranked("dirichlet", highest_first=True)[:9]]]
    captions = [c for img in at.image for c in img.captions]
    assert [int(c.split(" · ")[0].lstrip("#")) for c in captions[:9]] == most_normal
    tile_links = [link for c in at.caption for link in links(c.value)]
    pages = ("transforms", "attribution")
    assert tile_links[:4] == [(page, str(thinned), i) for i in most_normal[:2] for page in pages]
    assert all(i % 2 == 1 for _, _, i in tile_links)


def test_attributions_page_opens_the_linked_image_and_links_its_cases(thinned: Path) -> None:
    at = app_on_image("attribution.py", thinned, "7", TIMEOUT_S)
    assert not exceptions(at), exceptions(at)
    picker = next(s for s in at.selectbox if s.label.startswith("Image to explain"))
    assert picker.value == "any test image" and at.number_input[0].value == 7
    case_links = [link for c in at.caption for link in links(c.value)]
    assert case_links and all(run == str(thinned) and i % 2 == 1 for _, run, i in case_links)


def test_attributions_page_refuses_an_unscored_linked_image(thinned: Path) -> None:
    at = app_on_image("attribution.py", thinned, "8", TIMEOUT_S)
    assert not exceptions(at), exceptions(at)
    assert any("which this run did not score" in e.value for e in at.error)
    assert all(s.value != "any test image" for s in at.selectbox if s.label.startswith("Image to explain"))
