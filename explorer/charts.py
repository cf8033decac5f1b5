"""Every chart a page draws goes through show(): lecture mode is applied in one place, and the figure
is kept for the page's report (the sidebar's "Download this run's report" button).

The report of a page is started by the sidebar before the page runs and filled as the page draws;
the button builds its HTML only when clicked (a deferred download), so it holds every figure the page
drew however far down the button sits from them, and a page rerun costs no report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from core.runs import RunInfo
from explorer import state
from explorer.figures.style import lecture_style

REPORT_KEY = "geom_page_report"


@dataclass
class PageReport:
    """What one run of a page showed: its title, the runs it is about and the figures it drew."""

    page: str
    runs: list[RunInfo]
    figures: list[go.Figure] = field(default_factory=list)


def start_page_report(page: str, run: RunInfo | None) -> PageReport:
    """A fresh report for this run of the page about ``run`` (None: a page about no run)."""
    report = PageReport(page, [] if run is None else [run])
    st.session_state[REPORT_KEY] = report
    return report


def add_report_run(run: RunInfo) -> None:
    """Name one more run in this page's report (the Compare page's second run)."""
    report = st.session_state.get(REPORT_KEY)
    if report is not None and all(r.path != run.path for r in report.runs):
        report.runs.append(run)


def show(fig: go.Figure, where: Any = st, **kwargs: Any) -> None:
    """``where.plotly_chart(fig, **kwargs)`` (``where``: the page, a column, a tab) in the session's
    lecture style, keeping the figure as shown for the page's report.

    Lecture figures are drawn without Streamlit's chart theme, which sets its own (smaller, paler)
    tick and legend fonts over the figure's.
    """
    if state.lecture_mode():
        fig = lecture_style(fig)
        kwargs.setdefault("theme", None)
    report = st.session_state.get(REPORT_KEY)
    if report is not None:
        report.figures.append(fig)
    where.plotly_chart(fig, **kwargs)
