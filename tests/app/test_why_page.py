"""The Why page through AppTest: a tiny digits run (k = 72), a run with 26 transforms, the one-click retrain,
and the same choice of transforms in the sidebar's training form."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.experiment import RunRequest
from core.why import CHANCE_AUROC
from tests.app_fixtures import exceptions, page_with_run

TIMEOUT_S = 180


@pytest.fixture
def page(tiny_run, tiny_results_env) -> AppTest:
    at = page_with_run("why.py", tiny_run.path, TIMEOUT_S)
    assert not exceptions(at), exceptions(at)
    return at


def retrain_button(at: AppTest, label: str):
    return next(b for b in at.button if b.label.startswith(label))


def test_reading_pairs_and_figures(page: AppTest, tiny_run) -> None:
    assert page.title[0].value == "Why · digits · normal class 3"
    text = page.info[0].value
    assert text.startswith("Normal 3 test images put") and "hardest anomaly class is" in text
    assert len(page.dataframe) == 1  # the confused pairs
    # pair tiles, transforms ranked, class x transform, Dirichlet vs simplified per class
    assert len(page.get("plotly_chart")) == 4
    drop = page.multiselect[0]
    assert len(drop.options) == 72
    assert retrain_button(page, "Retrain without these").disabled == (not drop.value)


def test_a_run_with_26_transforms_opens_on_the_why_and_transforms_pages(subset_run, monkeypatch) -> None:
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(subset_run.path.parents[3]))
    at = page_with_run("why.py", subset_run.path, TIMEOUT_S)
    assert not exceptions(at), exceptions(at)
    assert len(at.multiselect[0].options) == 26 and len(at.get("plotly_chart")) == 4
    at = page_with_run("transforms.py", subset_run.path, TIMEOUT_S)
    assert not exceptions(at), exceptions(at)
    assert "26 transforms" in at.markdown[0].value and len(at.get("plotly_chart")) == 7


@pytest.fixture
def submitted(monkeypatch: pytest.MonkeyPatch) -> list[RunRequest]:
    """The requests the training jobs were given; the jobs stop there instead of training."""
    import explorer.jobs

    requests: list[RunRequest] = []

    def record(request: RunRequest, **_callbacks) -> None:
        requests.append(request)
        raise RuntimeError("stopped by the test")

    monkeypatch.setattr(explorer.jobs, "run_one_class", record)
    return requests


def wait_for(requests: list, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not requests:
        assert time.monotonic() < deadline, "no training job started"
        time.sleep(0.05)


def test_retrain_without_these_submits_the_kept_transforms(page: AppTest, tiny_run, submitted,
                                                           tiny_results_env: Path) -> None:
    drop = ["rot90", "flip rot180", "up8 left8"]
    page.multiselect[0].set_value(drop).run()
    retrain_button(page, "Retrain without these 3 (69 transforms)").click().run()
    assert not exceptions(page), exceptions(page)
    wait_for(submitted)
    request = submitted[0]
    assert (request.dataset, request.normal_class, request.preset, request.seed) == ("digits", 3, "tiny", 0)
    assert request.out == str(tiny_results_env)
    names = request.transforms.split(", ")
    assert len(names) == 69 and not set(drop) & set(names) and names[0] == "id"


def test_retrain_with_auto_submits_auto(page: AppTest, submitted) -> None:
    retrain_button(page, "Retrain with the auto rule").click().run()
    wait_for(submitted)
    assert submitted[0].transforms == "auto"


def test_the_drop_list_starts_with_the_transforms_at_chance(page: AppTest, tiny_run) -> None:
    from core.scores import RunScores
    from core.why import transform_auroc

    auroc = transform_auroc(RunScores.of(tiny_run))
    names = page.multiselect[0].options
    assert page.multiselect[0].value == [n for n, a in zip(names, auroc, strict=True) if a < CHANCE_AUROC]


def sidebar_box(at: AppTest, label: str):
    return next(s for s in at.sidebar.selectbox if s.label == label)


def test_the_sidebar_trains_a_listed_subset_and_refuses_a_bad_name(page: AppTest, submitted) -> None:
    assert sidebar_box(page, "Transforms").value == "paper72"  # the tiny run's own transforms
    sidebar_box(page, "Transforms").set_value("list").run()
    page.sidebar.text_area[0].set_value("0-3, flip, bogus").run()
    next(b for b in page.sidebar.button if b.label == "Train").click().run()
    assert any("unknown transform 'bogus'" in e.value for e in page.sidebar.error)
    assert not submitted
    page.sidebar.text_area[0].set_value("0-3, flip").run()
    next(b for b in page.sidebar.button if b.label == "Train").click().run()
    wait_for(submitted)
    assert submitted[0].transforms == "id, rot90, rot180, rot270, flip"
