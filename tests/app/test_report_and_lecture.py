"""A page's report (explorer/report.py, the sidebar's download button) and lecture mode in the app:
the report holds the page's figures, plotly.js once and the run's metadata; lecture mode reaches every
figure a page draws."""

from __future__ import annotations

import json
from pathlib import Path

import plotly.graph_objects as go
import pytest

from core.compare import run_settings
from explorer.charts import REPORT_KEY
from explorer.figures.style import LECTURE_FONT_PX
from explorer.report import report_html
from explorer.state import LECTURE_KEY
from tests.app_fixtures import exceptions, open_page, page_with_run

TIMEOUT_S = 180
PLOTLY_JS_MARK = "plotly.js v"  # the embedded library's banner comment


def test_the_report_holds_the_figures_plotly_js_once_and_the_metadata(tiny_run) -> None:
    figures = [go.Figure(go.Scatter(x=[0, 1], y=[0, 1]), layout=dict(title=f"figure {i}")) for i in range(3)]
    text = report_html("Scores", [tiny_run], figures, made="2026-12-02T10:00:00+00:00")
    assert text.startswith("<!DOCTYPE html>") and "<title>Scores · GEOM Explorer</title>" in text
    assert text.count(PLOTLY_JS_MARK) == 1  # embedded once, with the first figure: the file opens offline
    assert "<script src=" not in text  # no library fetched from a network
    assert text.count('class="plotly-graph-div"') == 3
    for i in range(3):
        assert f'"text":"figure {i}"' in text
    for name, value in run_settings(tiny_run).items():
        assert f"<td>{name}</td><td>{value}</td>" in text
    auroc = f"{100 * tiny_run.metrics['dirichlet']['auroc']:.1f}"
    assert f"<td>Dirichlet</td><td>{auroc}</td>" in text
    assert str(tiny_run.path) in text and "2026-12-02T10:00:00+00:00" in text


def test_two_runs_are_named_a_and_b_and_text_is_escaped(tiny_run) -> None:
    text = report_html("<Compare>", [tiny_run, tiny_run], [])
    assert "<h2>Run A</h2>" in text and "<h2>Run B</h2>" in text
    assert "&lt;Compare&gt;" in text and "<Compare>" not in text
    assert "This page drew no figures." in text and PLOTLY_JS_MARK not in text


@pytest.mark.slow
def test_a_page_collects_its_figures_for_the_report(tiny_run, tiny_results_env: Path) -> None:
    at = page_with_run("scores.py", tiny_run.path, TIMEOUT_S)
    assert not exceptions(at), exceptions(at)
    report = at.session_state[REPORT_KEY]
    assert report.page == "Scores" and [r.path for r in report.runs] == [tiny_run.path]
    assert len(report.figures) == len(at.get("plotly_chart")) == 5
    assert any(e.proto.label == "Download this run's report" for e in at.sidebar.get("download_button"))
    html = report_html(report.page, report.runs, report.figures)
    assert html.count('class="plotly-graph-div"') == 5


def chart_specs(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


@pytest.mark.slow
@pytest.mark.parametrize("page", ["transforms.py", "scores.py"])
def test_lecture_mode_reaches_every_figure_of_a_page(page: str, tiny_run, tiny_results_env: Path) -> None:
    at = page_with_run(page, tiny_run.path, TIMEOUT_S)
    assert all(spec["layout"].get("font", {}).get("size", 12) < LECTURE_FONT_PX for spec in chart_specs(at))
    toggle = next(t for t in at.sidebar.toggle if t.label == "Lecture mode")
    at = toggle.set_value(True).run()
    assert not exceptions(at), exceptions(at)
    assert at.session_state[LECTURE_KEY] is True
    specs = chart_specs(at)
    assert specs and all(spec["layout"]["font"]["size"] >= LECTURE_FONT_PX for spec in specs)
    annotations = [a for spec in specs for a in spec["layout"].get("annotations", [])]
    assert all(a.get("font", {}).get("size", LECTURE_FONT_PX) >= LECTURE_FONT_PX for a in annotations)
    at = open_page(at, "home.py")  # kept in the session from page to page
    assert json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["font"]["size"] >= LECTURE_FONT_PX

