"""Figures of the Compare page: two runs' AUROC per anomalous class side by side, and their ROC curves
on one chart. Plain functions over core.compare's numbers and score arrays; run A and run B keep their
colours (style.RUN_COLORS) on both, and the score its line style on the ROC."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from core.compare import ClassAuroc
from core.metrics import detection_curves, detection_metrics
from explorer.figures.style import LEGEND_ABOVE, OTHER_COLOR, RUN_COLORS
from explorer.figures.why import SCORE_NAMES

SCORE_DASH = {"dirichlet": "solid", "simple": "dash"}
_MARGIN = dict(l=10, r=10, t=60, b=10)


def class_auroc_pair_bars(rows: Sequence[ClassAuroc], class_labels: Mapping[int, str], run_names: Sequence[str],
                          score: str, title: str = "") -> go.Figure:
    """AUROC (%) per anomalous class, run A's bar beside run B's; a class one run did not test as an
    anomaly (its own normal class) has one bar, and its missing one is said on hover of the other."""
    if len(run_names) != 2:
        raise ValueError(f"two run names expected, got {len(run_names)}")
    labels = [class_labels.get(r.label, str(r.label)) for r in rows]
    fig = go.Figure()
    for i, (name, color) in enumerate(zip(run_names, RUN_COLORS, strict=True)):
        values = [r.first if i == 0 else r.second for r in rows]
        fig.add_bar(x=labels, y=[np.nan if v is None else 100 * v for v in values], name=name, marker_color=color,
                    text=["" if v is None else f"{100 * v:.1f}" for v in values], textposition="outside",
                    hovertemplate="normal vs %{x}: AUROC %{y:.1f}<extra>" + name + "</extra>")
    fig.add_hline(y=50, line=dict(color=OTHER_COLOR, dash="dash"))
    fig.update_xaxes(title="anomalous class", type="category")
    fig.update_yaxes(title=f"AUROC (%), {SCORE_NAMES.get(score, score)} score", range=[0, 112],
                     tickvals=list(range(0, 101, 20)))
    fig.update_layout(title=title or None, barmode="group", height=420, margin=_MARGIN,
                      legend=LEGEND_ABOVE)
    return fig


def roc_pair(curves: Mapping[tuple[int, str], tuple[np.ndarray, np.ndarray]], run_names: Sequence[str],
             title: str = "ROC (normal = positive)") -> go.Figure:
    """ROC curves keyed by (run 0 or 1, score method) -> (is_normal, normality score): the run by colour,
    the score by line style, each AUROC (%) in the legend."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance (50.0)",
                             line=dict(dash="dot", color=OTHER_COLOR)))
    for (run, score), (is_normal, values) in curves.items():
        c = detection_curves(is_normal, values)
        auroc = 100 * detection_metrics(is_normal, values)["auroc"]
        name = f"{run_names[run]}, {SCORE_NAMES.get(score, score)}: {auroc:.1f}"
        fig.add_trace(go.Scatter(x=c.fpr, y=c.tpr, mode="lines", name=name,
                                 line=dict(color=RUN_COLORS[run], dash=SCORE_DASH.get(score, "dot"), width=2.5),
                                 hovertemplate=f"{name}<br>FPR %{{x:.3f}}<br>TPR %{{y:.3f}}<extra></extra>"))
    fig.update_xaxes(title="false positive rate (anomalies called normal)", range=[0, 1], constrain="domain")
    fig.update_yaxes(title="true positive rate (normal called normal)", range=[0, 1.02])
    fig.update_layout(title=title, height=480, margin=dict(l=50, r=20, t=60, b=50),
                      legend=dict(x=0.98, y=0.02, xanchor="right", yanchor="bottom", title="AUROC (%)"))
    return fig
