"""Figures for the Results page: ours vs the paper per class, and ROC curves of several methods.

Plain functions from core.reproduce tables / score arrays to ``go.Figure`` (no streamlit), so the
notebooks and tests draw the same pictures. Values are percentages, as in the paper's tables.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go

from core.baselines import method_title, paper_method
from core.metrics import detection_curves, detection_metrics
from core.reproduce import METRIC_TITLES, ResultTable
from explorer.figures.style import METHOD_COLORS, OTHER_COLOR

_MARGIN = dict(l=50, r=20, t=60, b=50)


def method_color(method: str) -> str:
    return METHOD_COLORS.get(method, OTHER_COLOR)


def short_class_label(table: ResultTable, row: int | str) -> str:
    return table.row_label(row)


def class_bar_chart(table: ResultTable, show_paper: bool = True) -> go.Figure:
    """Grouped bars per class and the average: our mean +- SEM for each method, and the paper's value
    as a black-edged diamond on the same bar. Missing cells are simply absent.

    Bars sit on a numeric axis (class j at x = j, method i shifted by its offset) so each diamond
    lands exactly on its own bar; the ticks carry the class names.
    """
    rows = table.rows
    labels = [short_class_label(table, r) for r in rows]
    n = max(len(table.methods), 1)
    width = 0.8 / n
    fig = go.Figure()
    drawn: set[str] = set()  # paper columns already drawn: both OC-SVM modes share the paper's hindsight one
    for i, m in enumerate(table.methods):
        cells = [table.cells[(r, m)] for r in rows]
        xs = [j + (i - (n - 1) / 2) * width for j in range(len(rows))]
        fig.add_trace(go.Bar(
            name=f"{method_title(m)}, ours", x=xs, y=[c.mean for c in cells], width=width * 0.95,
            marker_color=method_color(m), customdata=labels,
            error_y=dict(type="data", array=[c.sem or 0 for c in cells], visible=any(c.sem for c in cells)),
            hovertemplate=f"{method_title(m)}, ours<br>%{{customdata}}: %{{y:.1f}}<extra></extra>",
        ))
        pm = paper_method(m)
        if show_paper and pm not in drawn and any(c.paper is not None for c in cells):
            drawn.add(pm)
            name = method_title(m).replace(" (fair)", " (hindsight)")
            fig.add_trace(go.Scatter(
                name=f"{name}, paper", x=xs, y=[c.paper for c in cells], mode="markers", customdata=labels,
                marker=dict(symbol="diamond", size=9, color=method_color(m), line=dict(color="black", width=1.5)),
                hovertemplate=f"{name}, paper<br>%{{customdata}}: %{{y:.1f}}<extra></extra>",
            ))
    values = [v for c in table.cells.values() for v in (c.mean, c.paper) if v is not None]
    low = max(0.0, (min(values) if values else 50.0) - 5)
    fig.update_layout(
        title=f"{METRIC_TITLES[table.metric]} per normal class: ours (bars) vs the paper (diamonds)",
        margin=_MARGIN, legend=dict(orientation="h", y=-0.22), bargap=0,
    )
    fig.update_xaxes(tickvals=list(range(len(rows))), ticktext=labels, range=[-0.6, len(rows) - 0.4])
    fig.update_yaxes(title=f"{METRIC_TITLES[table.metric]} (%)", range=[low, 100.5])
    return fig


def roc_overlay(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], title: str = "ROC (normal = positive)",
                paper_auroc: Mapping[str, float | None] | None = None, titles: Mapping[str, str] | None = None,
                positive: str = "normal", negative: str = "anomalies") -> go.Figure:
    """ROC curves of several methods on one evaluation set. ``curves``: method -> (is_positive, score,
    higher = more positive); ``titles`` names methods outside the one-class registry (the OOD page's),
    and ``positive`` / ``negative`` name the two groups on the axes.

    Each legend entry carries our AUROC and, where the paper has one, its AUROC (in %).
    """
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance (50.0)",
                             line=dict(dash="dash", color="grey")))
    for m, (is_normal, score) in curves.items():
        name = titles[m] if titles is not None else method_title(m)
        c = detection_curves(is_normal, score)
        auroc = 100 * detection_metrics(is_normal, score)["auroc"]
        ref = (paper_auroc or {}).get(m)
        label = f"{name}: {auroc:.1f}" + ("" if ref is None else f" (paper {ref:.1f})")
        fig.add_trace(go.Scatter(x=c.fpr, y=c.tpr, mode="lines", name=label,
                                 line=dict(color=method_color(m), width=2.5 if m == "geom" else 2),
                                 hovertemplate=f"{name}<br>FPR %{{x:.3f}}<br>TPR %{{y:.3f}}<extra></extra>"))
    fig.update_layout(title=title, margin=_MARGIN,
                      legend=dict(x=0.98, y=0.02, xanchor="right", yanchor="bottom", title="AUROC (%)"))
    fig.update_xaxes(title=f"false positive rate ({negative} called {positive})", range=[0, 1], constrain="domain")
    fig.update_yaxes(title=f"true positive rate ({positive} called {positive})", range=[0, 1.02])
    return fig
