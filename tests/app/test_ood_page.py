"""The Out-of-distribution page through AppTest: without a run it names the command that makes one; with
the tiny ``ood_run`` it draws the ROC curves, the metrics and both galleries; a one-class run chosen in the
sidebar is refused with the reason, and the one-class pages refuse an OOD run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.app_fixtures import (
    copy_run,
    exceptions,
    geom_run_without_model,
    listed_pages,
    new_app,
    open_page,
    page_with_run,
)

TIMEOUT_S = 180


@pytest.fixture
def results(ood_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A results folder holding a copy of the OOD run and a GEOM one-class run, which the app reads."""
    root = tmp_path / "results"
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(root))
    return {"ood": copy_run(ood_run.path, root), "geom": geom_run_without_model(root)}


def charts(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_without_a_run_the_page_names_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOM_RESULTS_DIR", str(tmp_path / "results"))
    at = open_page(new_app(TIMEOUT_S).run(), "ood.py")
    assert not exceptions(at)
    assert at.title[0].value == "Out-of-distribution detection"
    assert any("No out-of-distribution run" in i.value for i in at.info)
    assert "python -m core ood --in cifar10 --out cifar100" in at.code[0].value
    assert not at.get("plotly_chart")


def test_an_ood_run_shows_its_curves_metrics_and_galleries(results: dict[str, Path]) -> None:
    at = open_page(new_app(TIMEOUT_S).run(), "ood.py")
    assert not exceptions(at), exceptions(at)
    picker = next(s for s in at.selectbox if s.label == "Out-of-distribution run")
    assert picker.value == str(results["ood"]) and len(picker.options) == 1  # the GEOM run is not offered
    roc, top, bottom = charts(at)
    assert [t["name"].split(":")[0] for t in roc["data"]] == ["chance (50.0)", "GEOM (transform head)",
                                                              "max softmax (MSP)", "ODIN"]
    metrics = at.dataframe[0].value
    assert list(metrics.columns) == ["method", "data", "AUROC", "AUPR-in", "AUPR-out", "FPR@95%TPR"]
    assert len(metrics) == 3  # digits: the paper has no row for it
    assert any("reports Section 5.5 for CIFAR-10 only" in c.value for c in at.caption)
    assert len(top["layout"]["annotations"]) == len(bottom["layout"]["annotations"]) == 12
    assert any("could not be read and were skipped" in e.label for e in at.expander)


def test_the_sidebar_names_an_ood_run_and_one_class_pages_refuse_it(results: dict[str, Path]) -> None:
    at = page_with_run("ood.py", results["ood"], TIMEOUT_S)
    assert not exceptions(at), exceptions(at)
    assert "out-of-distribution run" in at.sidebar.success[0].value
    at = open_page(at, "scores.py")
    assert not exceptions(at), exceptions(at)
    assert any("is an out-of-distribution run" in w.value and "Out-of-distribution page" in w.value
               for w in at.warning)


def test_a_one_class_run_chosen_in_the_sidebar_is_refused_with_the_reason(results: dict[str, Path]) -> None:
    at = page_with_run("ood.py", results["geom"], TIMEOUT_S)
    assert not exceptions(at), exceptions(at)
    assert any("is a geom one-class run" in i.value and "python -m core ood" in i.value for i in at.info)
    assert next(s for s in at.selectbox if s.label == "Out-of-distribution run").value == str(results["ood"])


@pytest.mark.slow
@pytest.mark.parametrize("page", listed_pages())
def test_every_page_opens_with_an_ood_run_chosen(page: str, results: dict[str, Path]) -> None:
    """An OOD run has no normal class: no page may take it for a one-class run and fail on that."""
    at = page_with_run(page, results["ood"], TIMEOUT_S)
    assert not exceptions(at), exceptions(at)
