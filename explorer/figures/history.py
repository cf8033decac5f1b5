"""The training-curve figure: loss and transform accuracy against step, from a run's history.json.

It answers "did training converge?": a loss still falling at the last step says more steps would
help. Built from the plain history rows (core.runs.RunInfo.history), so the Scores page and the
notebook draw the same figure from the same record.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.figures.style import NORMAL_COLOR, PAPER_COLOR


def training_curves_figure(history: Sequence[dict[str, float]], title: str = "Training") -> go.Figure:
    """Loss (left) and accuracy of the transform classifier (right), each point the mean since the last.

    Accuracy is the share of transformed training images whose transform was recognised; with k
    transforms, chance is 1/k.
    """
    steps = [row["step"] for row in history]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("cross-entropy loss", "transform accuracy"))
    fig.add_trace(go.Scatter(x=steps, y=[row["loss"] for row in history], mode="lines", name="loss",
                             line=dict(color=NORMAL_COLOR), hovertemplate="step %{x}<br>loss %{y:.4f}<extra></extra>"),
                  row=1, col=1)
    fig.add_trace(go.Scatter(x=steps, y=[row["accuracy"] for row in history], mode="lines", name="accuracy",
                             line=dict(color=PAPER_COLOR),
                             hovertemplate="step %{x}<br>accuracy %{y:.3f}<extra></extra>"),
                  row=1, col=2)
    fig.update_xaxes(title="step")
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_layout(title=title, showlegend=False, height=300, margin=dict(l=50, r=20, t=70, b=50))
    return fig
