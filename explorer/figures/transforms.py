"""Figures for the Transforms page: what the transform classifier believes, per transform.

GEOM's whole signal lives in the k x k softmax matrix of an image (row t = the classifier's output
on T_t(x)): a normal image has mass on the diagonal, an anomaly spreads it. These builders show that
matrix, its diagonal, an image's k transformed versions and the per-transform terms of the
Dirichlet score, every one in the display order of explorer.figures.order (blocks of one flip and
rotation). Plain functions: numpy in (in the set's own order), ``go.Figure`` out, no streamlit.
"""

from __future__ import annotations

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from explorer.figures.gallery import mosaic
from explorer.figures.order import (
    TransformOrder,
    Transforms,
    add_block_lines,
    check_count,
    shift_label,
    transform_axis,
    transform_order,
)
from explorer.figures.style import ANOMALY_COLOR, LEGEND_ABOVE, NORMAL_COLOR, OTHER_COLOR

# Red -> amber -> green, all dark enough to read as text on white.
PROB_COLORSCALE = [[0.0, "#c0392b"], [0.5, "#b9770e"], [1.0, "#1e8449"]]
MATRIX_SIDE_PX = 560  # a k x k matrix alone on a row; side by side, pages pass a side that fits their columns


def prob_color(p: float) -> str:
    """Colour of a probability of the right transform: red (wrong) -> green (right)."""
    return sample_colorscale(PROB_COLORSCALE, [float(np.clip(p, 0.0, 1.0))])[0]


def _top(m: np.ndarray) -> float:
    """Largest value, for a stretched colour scale (1 when the matrix is empty or all zero)."""
    top = float(m.max()) if m.size else 0.0
    return top if top > 0 else 1.0


def _square_matrix(matrix: np.ndarray, layout: TransformOrder) -> np.ndarray:
    """The (k, k) matrix with rows and columns in display order."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"expected a square (k, k) matrix, got shape {m.shape}")
    check_count(m.shape[0], layout, "the matrix")
    order = list(layout.order)
    return m[np.ix_(order, order)]


def _matrix_figure(m: np.ndarray, layout: TransformOrder, title: str, side_px: int, colorbar_title: str,
                   **heatmap) -> go.Figure:
    """A heatmap of a display-ordered k x k matrix with square cells, block labels and block lines.

    The colour bar lies under the matrix, so the figure is about as wide as the matrix and its row
    labels: three fit side by side, and one alone keeps its scale beside it (pages draw it at its own
    width). ``side_px`` is the matrix's side.
    """
    k = len(m)
    names = np.asarray(layout.names, dtype=object)
    custom = np.empty((k, k, 2), dtype=object)
    custom[..., 0] = names[:, None]
    custom[..., 1] = names[None, :]
    # Three ticks, the middle one naming the scale ("p = 0.5"): plotly places a horizontal colour bar's
    # title unevenly, and drops tick labels that would overlap.
    lo, hi = heatmap["zmin"], heatmap["zmax"]
    ticks = [lo, (lo + hi) / 2, hi]
    labels = [f"{lo:.2g}", f"{colorbar_title} = {ticks[1]:.2g}", f"{hi:.2g}"]
    bar = dict(tickmode="array", tickvals=ticks, ticktext=labels, orientation="h", thickness=10, len=0.9,
               yref="container", y=0, yanchor="bottom", x=0.5, xanchor="center")
    fig = go.Figure(go.Heatmap(z=m, x=list(range(k)), y=list(range(k)), customdata=custom, colorbar=bar, **heatmap))
    fig.update_xaxes(transform_axis(layout), title="predicted transform", tickangle=-90 if not layout.grouped else -45,
                     constrain="domain")
    fig.update_yaxes(transform_axis(layout), title="applied transform", autorange="reversed",
                     scaleanchor="x", scaleratio=1, constrain="domain")
    top, bottom, left = (45 if title else 10), 120, 110  # title; tick labels, axis title and colour bar; row labels
    fig.update_layout(title=title or None, width=side_px + left + 10, height=side_px + top + bottom,
                      margin=dict(l=10, r=10, t=top, b=10))
    return add_block_lines(fig, layout, "xy")


def softmax_heatmap(matrix: np.ndarray, transforms: Transforms, title: str = "", zmax: float | None = 1.0,
                    side_px: int = MATRIX_SIDE_PX) -> go.Figure:
    """The k x k softmax matrix (in the set's order): row = applied transform, column = predicted.

    Drawn in display order with square cells. The colour scale is [0, 1] by default, so matrices of
    different images and groups compare by eye; ``zmax=None`` stretches it to the matrix's largest
    value instead, which shows the structure of a weak model whose probabilities all sit near 1/k.
    Hover names both transforms and gives the probability.
    """
    layout = transform_order(transforms)
    m = _square_matrix(matrix, layout)
    return _matrix_figure(m, layout, title, side_px, "p", zmin=0.0, zmax=_top(m) if zmax is None else zmax,
                          colorscale="Viridis",
                          hovertemplate="applied: %{customdata[0]}<br>predicted: %{customdata[1]}<br>"
                                        "p = %{z:.3f}<extra></extra>")


def softmax_difference_heatmap(first: np.ndarray, second: np.ndarray, transforms: Transforms, title: str = "",
                               side_px: int = MATRIX_SIDE_PX) -> go.Figure:
    """``first - second``, two k x k softmax matrices of the same transforms: blue where the first puts
    more probability, red where the second does, white where they agree; the scale is symmetric."""
    layout = transform_order(transforms)
    a, b = _square_matrix(first, layout), _square_matrix(second, layout)
    d = a - b
    lim = max(float(np.abs(d).max()), 1e-6)
    return _matrix_figure(d, layout, title, side_px, "Δp", zmin=-lim, zmax=lim, zmid=0.0, colorscale="RdBu",
                          hovertemplate="applied: %{customdata[0]}<br>predicted: %{customdata[1]}<br>"
                                        "Δp = %{z:+.3f}<extra></extra>")


def _bar_axis(fig: go.Figure, layout: TransformOrder) -> go.Figure:
    fig.update_xaxes(transform_axis(layout), title="transform", tickangle=-90 if not layout.grouped else 0)
    return add_block_lines(fig, layout, "x", color="#cccccc")


def per_transform_accuracy_bars(normal_diag: np.ndarray, anomalous_diag: np.ndarray | None,
                                transforms: Transforms, title: str = "") -> go.Figure:
    """Probability of the right transform, per transform, for normal images vs anomalies.

    A transform where normal images score high is one the class is *not* invariant to, so it
    carries signal; where normal images are near chance (1/k) the class looks the same under that
    transform (e.g. a horizontal flip of an '8') and it cannot tell anomalies apart.
    """
    layout = transform_order(transforms)
    order = list(layout.order)
    normal = np.asarray(normal_diag, dtype=np.float64).ravel()
    k = len(normal)
    check_count(k, layout, "normal_diag")
    fig = go.Figure()
    custom = np.asarray(layout.names, dtype=object)
    fig.add_bar(x=list(range(k)), y=normal[order], name="normal", marker_color=NORMAL_COLOR, customdata=custom,
                hovertemplate="%{customdata}<br>normal: %{y:.3f}<extra></extra>")
    if anomalous_diag is not None:
        anomalous = np.asarray(anomalous_diag, dtype=np.float64).ravel()
        if anomalous.shape != (k,):
            raise ValueError(f"anomalous_diag has shape {anomalous.shape}, expected ({k},)")
        fig.add_bar(x=list(range(k)), y=anomalous[order], name="anomalous", marker_color=ANOMALY_COLOR,
                    customdata=custom, hovertemplate="%{customdata}<br>anomalous: %{y:.3f}<extra></extra>")
    fig.add_hline(y=1.0 / k, line_dash="dot", line_color=OTHER_COLOR, annotation_text="chance (1/k)",
                  annotation_position="top right")
    fig.update_yaxes(title="p(right transform)", range=[0, 1.02])
    fig.update_layout(title=title or None, barmode="group", bargap=0.15, height=420,
                      legend=LEGEND_ABOVE,
                      margin=dict(l=10, r=10, t=50 if title else 30, b=10))
    return _bar_axis(fig, layout)


def transform_grid(images: np.ndarray, transforms: Transforms, probs: np.ndarray | None = None,
                   tile_px: int = 72, title: str = "") -> go.Figure:
    """The k transformed versions of one image (in the set's order), a row per block (flip and
    rotation, labelled on the left) and a column per shift (labelled on top); a set without some
    shift leaves its cell empty.

    With ``probs`` (the probability of the right transform under each), every tile is captioned
    with it, red to green. One mosaic image plus text annotations (one image trace, not k subplots:
    far faster to draw at k = 72); hovering a tile names its transform.
    """
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(f"expected uint8 images (k, H, W, C) with C in {{1, 3}}, got {x.dtype} {x.shape}")
    layout = transform_order(transforms)
    k, h, w, _ = x.shape
    check_count(k, layout, "images")
    p = None if probs is None else np.asarray(probs, dtype=np.float64).ravel()
    if p is not None and p.shape != (k,):
        raise ValueError(f"probs has shape {p.shape}, expected ({k},)")
    rows, cols = len(layout.blocks), len(layout.shifts)
    pad, caption = max(1, h // 16), (max(6, h * 3 // 8) if p is not None else 0)
    tiles = np.full((rows * cols, h + caption, w, x.shape[-1]), 255, np.uint8)  # empty cells stay white
    cells = [layout.cell(position) for position in range(k)]
    for position, (r, c) in enumerate(cells):
        tiles[r * cols + c, :h] = x[layout.order[position]]
    canvas = mosaic(tiles, cols, pad)
    rgb = canvas if canvas.shape[-1] == 3 else np.repeat(canvas, 3, axis=-1)
    fig = px.imshow(rgb, binary_string=True)  # one PNG-encoded trace: small payload, fast render
    fig.update_traces(hoverinfo="skip", hovertemplate=None)
    step_x, step_y = w + pad, h + caption + pad
    notes = [dict(x=-pad, y=r * step_y + h / 2, xanchor="right", text=b.label, showarrow=False, font=dict(size=14))
             for r, b in enumerate(layout.blocks)]
    notes += [dict(x=c * step_x + w / 2, y=-pad, yanchor="bottom", text=shift_label(s).replace(" ", "<br>"),
                   showarrow=False, font=dict(size=14)) for c, s in enumerate(layout.shifts)]  # a word a line
    colors = sample_colorscale(PROB_COLORSCALE, np.clip(p, 0.0, 1.0).tolist()) if p is not None else []
    centres_x, centres_y, hover = [], [], []
    for position, (r, c) in enumerate(cells):
        t = layout.order[position]
        centres_x.append(c * step_x + w / 2)
        centres_y.append(r * step_y + h / 2)
        name = layout.transforms[t].name
        hover.append(f"#{t} {name}" + ("" if p is None else f"<br>p(right) = {p[t]:.3f}"))
        if p is not None:
            notes.append(dict(x=centres_x[-1], y=r * step_y + h + caption / 2, text=f"<b>{p[t]:.2f}</b>",
                              showarrow=False, font=dict(size=14, color=colors[t]), yanchor="middle"))
    # Invisible markers over the tiles carry the hover text (an image trace cannot).
    fig.add_scatter(x=centres_x, y=centres_y, mode="markers", marker=dict(size=tile_px * 0.8, opacity=0),
                    hovertext=hover, hoverinfo="text", showlegend=False)
    fig.update_layout(annotations=notes)  # one call: add_annotation per tile costs ~10 ms each
    scale = tile_px / h
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    left, top = 90, (40 if title else 0) + 45  # room for the row labels and two-line column labels
    fig.update_layout(title=title or None, margin=dict(l=left, r=5, t=top, b=5),
                      width=int(canvas.shape[1] * scale) + left + 5, height=int(canvas.shape[0] * scale) + top + 5)
    return fig


def contribution_bars(contrib: np.ndarray, transforms: Transforms, normal_mean: np.ndarray | None = None,
                      title: str = "") -> go.Figure:
    """Per-transform terms (alpha_t - 1) . log y(T_t(x)) of an image's Dirichlet score.

    The terms sum to the score (higher = more normal). Against the mean term of normal images the
    bars show *which* transforms make this image look odd: bars below the normal mean are red.
    """
    layout = transform_order(transforms)
    order = list(layout.order)
    c = np.asarray(contrib, dtype=np.float64).ravel()
    k = len(c)
    check_count(k, layout, "contrib")
    ref = None
    if normal_mean is not None:
        ref = np.asarray(normal_mean, dtype=np.float64).ravel()
        if ref.shape != (k,):
            raise ValueError(f"normal_mean has shape {ref.shape}, expected ({k},)")
        ref = ref[order]
    c = c[order]
    colors = [NORMAL_COLOR if ref is None or c[i] >= ref[i] else ANOMALY_COLOR for i in range(k)]
    custom = np.asarray(layout.names, dtype=object)
    fig = go.Figure(go.Bar(x=list(range(k)), y=c, marker_color=colors, name="this image", customdata=custom,
                           hovertemplate="%{customdata}<br>this image: %{y:.1f}<extra></extra>"))
    if ref is not None:
        fig.add_scatter(x=list(range(k)), y=ref, mode="markers", name="mean of normal images",
                        marker=dict(symbol="line-ew-open", size=max(6, 600 // k), color="black", line=dict(width=2)),
                        customdata=custom, hovertemplate="%{customdata}<br>normal mean: %{y:.1f}<extra></extra>")
    fig.update_yaxes(title="contribution (higher = more normal)")
    fig.update_layout(title=title or None, height=420, showlegend=ref is not None,
                      legend=LEGEND_ABOVE,
                      margin=dict(l=10, r=10, t=50 if title else 30, b=10))
    return _bar_axis(fig, layout)
