"""Figures for the Why page: which transforms carry a run's signal, against which anomalies.

Plain functions over core.why's numbers: numpy in, ``go.Figure`` out, no streamlit. Transform axes
are drawn like the Transforms page's (explorer.figures.order), so transforms sit where they sit there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from core.transforms import TransformSet, apply_numpy
from core.why import CHANCE_AUROC, ConfusedPair
from explorer.figures.gallery import image_grid
from explorer.figures.order import Transforms, add_block_lines, check_count, name_axis, transform_axis, transform_order
from explorer.figures.style import LEGEND_ABOVE, NORMAL_COLOR, OTHER_COLOR

SCORE_COLORS = {"dirichlet": NORMAL_COLOR, "simple": OTHER_COLOR}  # the paper's score in the normal-image blue
SCORE_NAMES = {"dirichlet": "Dirichlet", "simple": "simplified"}


def _chance_lines(fig: go.Figure) -> None:
    """Dotted at 0.5 (a coin toss), dashed at CHANCE_AUROC (below it: no signal)."""
    fig.add_hline(0.5, line_dash="dot", line_color="grey", layer="above")
    fig.add_hline(CHANCE_AUROC, line_dash="dash", line_color="grey", layer="above",
                  annotation_text=f"no signal below {CHANCE_AUROC:.2f}", annotation_position="top right")


def transform_auroc_bars(auroc: np.ndarray, names: Sequence[str], title: str = "") -> go.Figure:
    """Each transform's AUROC on its own (its p(right transform), normal vs anomalous), best first;
    grey bars are the transforms below CHANCE_AUROC, which carry (almost) no signal. Best first puts
    the shortest bars on the right, under the threshold's label."""
    a = np.asarray(auroc, np.float64).ravel()
    if len(names) != len(a):
        raise ValueError(f"auroc has {len(a)} transforms but {len(names)} names were given")
    order = np.argsort(-a, kind="stable")
    ranked = [names[t] for t in order]
    fig = go.Figure(go.Bar(
        x=list(range(len(a))), y=a[order], customdata=[f"#{t} {names[t]}" for t in order],
        marker_color=[NORMAL_COLOR if v >= CHANCE_AUROC else OTHER_COLOR for v in a[order]],
        hovertemplate="%{customdata}<br>AUROC %{y:.3f}<extra></extra>"))
    _chance_lines(fig)
    fig.update_xaxes(name_axis(ranked), title="transform, best first", tickangle=-90)
    fig.update_yaxes(title="AUROC of this transform alone", range=[min(0.0, float(a.min())), 1.02])
    fig.update_layout(title=title or None, height=420, showlegend=False,
                      margin=dict(l=10, r=10, t=50 if title else 30, b=10))
    return fig


def class_transform_heatmap(matrix: np.ndarray, class_labels: Sequence[str], transforms: Transforms,
                            title: str = "") -> go.Figure:
    """Anomalous class x transform: each transform's AUROC against each class alone, white at a coin
    toss, blue where the transform catches the class, red where that class looks *more* normal.
    Columns in the transforms' display order."""
    m = np.asarray(matrix, np.float64)
    if m.ndim != 2 or m.shape[0] != len(class_labels):
        raise ValueError(f"expected ({len(class_labels)}, k) AUROCs, got shape {m.shape}")
    layout = transform_order(transforms)
    check_count(m.shape[1], layout, "the matrix")
    m, names = m[:, list(layout.order)], layout.names
    rows = list(class_labels)
    custom = np.empty(m.shape + (2,), dtype=object)
    custom[..., 0] = np.asarray(rows, dtype=object)[:, None]
    custom[..., 1] = np.asarray(names, dtype=object)[None, :]
    fig = go.Figure(go.Heatmap(
        z=m, x=list(range(m.shape[1])), y=list(range(len(rows))), customdata=custom, zmin=0.0, zmax=1.0, zmid=0.5,
        colorscale="RdBu", colorbar=dict(title="AUROC", thickness=12),
        hovertemplate="anomalies: %{customdata[0]}<br>transform: %{customdata[1]}<br>AUROC %{z:.3f}<extra></extra>"))
    fig.update_xaxes(transform_axis(layout), title="transform", tickangle=0 if layout.grouped else -90)
    fig.update_yaxes(tickmode="array", tickvals=list(range(len(rows))), ticktext=rows, autorange="reversed",
                     title="anomalous class")
    fig.update_layout(title=title or None, height=200 + 26 * len(rows),
                      margin=dict(l=10, r=10, t=50 if title else 10, b=10))
    return add_block_lines(fig, layout, "x", color="#333333")


def class_auroc_bars(by_method: Mapping[str, Mapping[int, float]], class_labels: Mapping[int, str],
                     title: str = "") -> go.Figure:
    """AUROC per anomalous class with the Dirichlet and the simplified score side by side."""
    classes = sorted({c for per_class in by_method.values() for c in per_class})
    fig = go.Figure()
    for method, per_class in by_method.items():
        fig.add_bar(x=[class_labels[c] for c in classes], y=[per_class.get(c, np.nan) for c in classes],
                    name=SCORE_NAMES.get(method, method), marker_color=SCORE_COLORS.get(method, OTHER_COLOR),
                    hovertemplate="%{x}<br>AUROC %{y:.3f}<extra>" + SCORE_NAMES.get(method, method) + "</extra>")
    fig.add_hline(0.5, line_dash="dot", line_color="grey")
    fig.update_xaxes(title="anomalous class", type="category")
    fig.update_yaxes(title="AUROC", range=[0, 1.02])
    fig.update_layout(title=title or None, barmode="group", height=380,
                      legend=LEGEND_ABOVE,
                      margin=dict(l=10, r=10, t=50 if title else 30, b=10))
    return fig


def pair_tiles(image: np.ndarray, pairs: Sequence[ConfusedPair], transforms: TransformSet,
               title: str | None = None) -> go.Figure:
    """One image under both transforms of each confused pair, side by side: they look alike.

    ``image`` is one uint8 (H, W, C) image; tiles go pair by pair, two per pair, captioned with the
    transform's name and, on the second, the relation.
    """
    tiles = np.stack([apply_numpy(np.asarray(image), transforms[t]) for p in pairs for t in (p.applied, p.taken_for)])
    captions = [text for p in pairs for text in (transforms.names[p.applied],
                                                 f"{transforms.names[p.taken_for]} ({p.label})")]
    return image_grid(tiles, captions, ncols=min(8, len(tiles)), caption_px=40, title=title)
