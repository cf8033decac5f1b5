"""A page's report as one HTML file: the runs it shows (settings, metrics) and the figures it drew.

plotly.js is embedded once, with the first figure, so the file opens offline and stays interactive
(about 5 MB however many figures follow); a CDN link would make it small but blank without a network.
A plain function of runs and figures: the sidebar's download button and the tests call the same one.
"""

from __future__ import annotations

import datetime as _dt
import html
from collections.abc import Sequence

import plotly.graph_objects as go
import plotly.io as pio

from core.compare import run_settings
from core.reproduce import METRIC_TITLES
from core.runs import RunInfo
from explorer.figures.why import SCORE_NAMES

_STYLE = """body{font-family:system-ui,sans-serif;color:#111;max-width:1200px;margin:2em auto;padding:0 1em}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}.figure{margin:1.5em 0}code{font-size:90%}"""


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _run_section(name: str, run: RunInfo) -> str:
    """One run: its folder, settings and metrics (percent, as every page shows them)."""
    settings = _table(("setting", "value"), list(run_settings(run).items()))
    rows = [[SCORE_NAMES.get(score, score)] + [f"{100 * values[m]:.1f}" if m in values else "-" for m in METRIC_TITLES]
            for score, values in run.metrics.items() if isinstance(values, dict)]
    metrics = _table(("score", *METRIC_TITLES.values()), rows) if rows else \
        "<p>No metrics: the run's test data hold no anomalies.</p>"
    return (f"<h2>{html.escape(name)}</h2><p><code>{html.escape(str(run.path))}</code>, created "
            f"{html.escape(str(run.meta.get('created', 'at an unknown time')))}</p>{settings}{metrics}")


def _standalone(fig: go.Figure) -> go.Figure:
    """A copy whose axes make room for their labels, as Streamlit's chart theme does on the page (the
    figures' own margins are tight)."""
    return go.Figure(fig).update_xaxes(automargin=True).update_yaxes(automargin=True)


def report_html(title: str, runs: Sequence[RunInfo], figures: Sequence[go.Figure], made: str | None = None) -> str:
    """The report of a page titled ``title``: each run's settings and metrics, then every figure.

    Runs are named "Run A", "Run B" when there are two or more (the Compare page's names).
    """
    made = made or _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    names = ["Run"] if len(runs) == 1 else [f"Run {chr(ord('A') + i)}" for i in range(len(runs))]
    sections = "".join(_run_section(n, r) for n, r in zip(names, runs, strict=True))
    charts = "".join('<div class="figure">' + pio.to_html(_standalone(fig), full_html=False, include_plotlyjs=i == 0)
                     + "</div>" for i, fig in enumerate(figures))
    if not figures:
        charts = "<p>This page drew no figures.</p>"
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)} · GEOM Explorer</title>"
            f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p>GEOM Explorer report, made {html.escape(made)}.</p>{sections}<h2>Figures</h2>{charts}</body></html>")
