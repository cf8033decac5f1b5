"""Figures for reading a detector's scores: ROC, PR, score histograms, AUROC per anomalous class.

Conventions follow core.metrics: scores are GEOM normality scores (higher = more normal) and the
normal class is the positive class for AUROC and AUPR-in.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.metrics import detection_curves, detection_metrics
from explorer.figures.style import ANOMALY_COLOR, MIDDLING_COLOR, NORMAL_COLOR, OTHER_COLOR, PAPER_COLOR

_MARGIN = dict(l=50, r=20, t=50, b=50)


def _square_axes(fig: go.Figure, x_title: str, y_title: str) -> go.Figure:
    fig.update_xaxes(title=x_title, range=[0, 1], constrain="domain")
    fig.update_yaxes(title=y_title, range=[0, 1.02])
    fig.update_layout(margin=_MARGIN, legend=dict(x=0.98, y=0.02, xanchor="right", yanchor="bottom"))
    return fig


def roc_figure(is_normal: np.ndarray, scores: np.ndarray, paper_auroc: float | None = None,
               title: str = "ROC") -> go.Figure:
    """ROC curve with its AUROC in the legend, the chance diagonal, and the paper's AUROC noted.

    ``paper_auroc`` is a fraction (e.g. 0.935), as in core.metrics, not the paper's percent.
    """
    curves = detection_curves(is_normal, scores)
    auroc = detection_metrics(is_normal, scores)["auroc"]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance (AUROC 50.0)",
                             line=dict(dash="dash", color="grey")))
    fig.add_trace(go.Scatter(x=curves.fpr, y=curves.tpr, mode="lines", name=f"GEOM (AUROC {100 * auroc:.1f})",
                             line=dict(color=NORMAL_COLOR, width=2),
                             hovertemplate="FPR %{x:.3f}<br>TPR %{y:.3f}<extra></extra>"))
    if paper_auroc is not None:
        fig.add_annotation(x=0.98, y=0.25, xanchor="right", showarrow=False, font=dict(color=PAPER_COLOR),
                           text=f"paper's AUROC for this class: {100 * paper_auroc:.1f}")
    fig.update_layout(title=title)
    return _square_axes(fig, "false positive rate (anomalies called normal)",
                        "true positive rate (normal called normal)")


def pr_figure(is_normal: np.ndarray, scores: np.ndarray, paper_aupr_in: float | None = None,
              title: str = "Precision-recall") -> go.Figure:
    """PR-in curve with AUPR-in in the legend and the no-skill line at the normal fraction."""
    y = np.asarray(is_normal, bool)
    curves = detection_curves(y, scores)
    aupr = detection_metrics(y, scores)["aupr_in"]
    base = float(y.mean())
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[base, base], mode="lines", name=f"no skill ({100 * base:.1f})",
                             line=dict(dash="dash", color="grey")))
    fig.add_trace(go.Scatter(x=curves.recall, y=curves.precision, mode="lines", name=f"GEOM (AUPR-in {100 * aupr:.1f})",
                             line=dict(color=NORMAL_COLOR, width=2, shape="hv"),
                             hovertemplate="recall %{x:.3f}<br>precision %{y:.3f}<extra></extra>"))
    if paper_aupr_in is not None:
        fig.add_annotation(x=0.02, y=0.05, xanchor="left", showarrow=False, font=dict(color=PAPER_COLOR),
                           text=f"paper's AUPR-in for this class: {100 * paper_aupr_in:.1f}")
    fig.update_layout(title=title)
    return _square_axes(fig, "recall (normal found)", "precision (called normal that are normal)")


def score_histogram(is_normal: np.ndarray, scores: np.ndarray, threshold: float | None = None,
                    score_name: str = "normality score", nbins: int = 40,
                    saved_threshold: float | None = None) -> go.Figure:
    """Overlaid histograms of the score for normal vs anomalous images, each summing to 1.

    Fractions of each group (not counts), because the normal class is about a tenth of the test
    set and its bars would otherwise vanish. Both groups share the same bins so their overlap
    reads directly. An empty group (normal-only test data has no anomalies) gets no trace.
    ``threshold`` (the reader's) and ``saved_threshold`` (the run's, on the normality score) are
    drawn as vertical lines, the saved one dashed and named at the bottom so the labels never collide.
    """
    y = np.asarray(is_normal, bool)
    s = np.asarray(scores, dtype=np.float64)
    lo, hi = float(s.min()), float(s.max())
    size = (hi - lo) / nbins if hi > lo else 1.0
    bins = dict(start=lo, end=hi + 1e-9 * max(1.0, abs(hi)), size=size)
    fig = go.Figure()
    for mask, name, color in ((y, "normal", NORMAL_COLOR), (~y, "anomalous", ANOMALY_COLOR)):
        if not mask.any():
            continue
        fig.add_trace(go.Histogram(x=s[mask], name=f"{name} ({int(mask.sum())})", xbins=bins, autobinx=False,
                                   histnorm="probability", opacity=0.6, marker_color=color))
    if threshold is not None:
        fig.add_vline(x=threshold, line=dict(color="black", dash="dot"),
                      annotation_text="threshold", annotation_position="top")
    if saved_threshold is not None:
        fig.add_vline(x=saved_threshold, line=dict(color=OTHER_COLOR, dash="dash"),
                      annotation_text="saved threshold", annotation_position="bottom left",
                      annotation_bgcolor="rgba(255, 255, 255, 0.8)")  # inside the plot, clear of the tick labels
    fig.update_layout(barmode="overlay", title="Score histogram",
                      margin=_MARGIN, legend=dict(x=0.01, y=0.99))
    fig.update_xaxes(title=f"{score_name} (higher = more normal)")
    fig.update_yaxes(title="fraction of the group")
    return fig


def per_class_auroc_figure(per_class: dict[int, float], class_names: Sequence[str],
                           overall: float | None = None) -> go.Figure:
    """Bars of the AUROC of normal vs each anomalous class; the lowest bars are the confusions."""
    ids = sorted(per_class)
    values = [100 * per_class[i] for i in ids]
    names = [class_names[i] if class_names[i] == str(i) else f"{i} - {class_names[i]}" for i in ids]
    colors = [ANOMALY_COLOR if v < 70 else MIDDLING_COLOR if v < 90 else NORMAL_COLOR for v in values]
    fig = go.Figure(go.Bar(x=names, y=values, marker_color=colors, text=[f"{v:.1f}" for v in values],
                           textposition="outside", showlegend=False,
                           hovertemplate="normal vs %{x}: AUROC %{y:.1f}<extra></extra>"))
    if overall is not None:  # a dotted line at the overall AUROC, named in the legend
        fig.add_trace(go.Scatter(x=names, y=[100 * overall] * len(names), mode="lines", hoverinfo="skip",
                                 name=f"all anomalies ({100 * overall:.1f})", line=dict(color="black", dash="dot")))
    fig.add_hline(y=50, line=dict(color="grey", dash="dash"))
    fig.update_layout(title="AUROC per anomalous class", margin=_MARGIN,
                      legend=dict(orientation="h", x=1, y=1, xanchor="right", yanchor="top"))
    fig.update_xaxes(title="anomalous class", type="category")
    fig.update_yaxes(title="AUROC (%)", range=[0, 118], tickvals=list(range(0, 101, 20)))  # headroom: labels, legend
    return fig
