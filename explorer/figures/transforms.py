"""Figures for the Transforms page: what the transform classifier believes, per transform.

GEOM's whole signal lives in the k x k softmax matrix of an image (row t = the classifier's output
on T_t(x)): a normal image has mass on the diagonal, an anomaly spreads it. These builders show that
matrix, its diagonal, an image's k transformed versions and the per-transform terms of the
Dirichlet score. Plain functions: numpy in, ``go.Figure`` out, no streamlit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from explorer.figures.gallery import mosaic
from explorer.figures.style import ANOMALY_COLOR, NORMAL_COLOR

# Red -> amber -> green, all dark enough to read as text on white.
PROB_COLORSCALE = [[0.0, "#c0392b"], [0.5, "#b9770e"], [1.0, "#1e8449"]]


def _check_names(names: Sequence[str], k: int, what: str) -> list[str]:
    names = [str(n) for n in names]
    if len(names) != k:
        raise ValueError(f"{what} has {k} transforms but {len(names)} names were given")
    return names


def _tick_font_size(k: int) -> int:
    """Small enough that every one of k labels fits beside its row (7 px at k = 72)."""
    return 12 if k <= 12 else 9 if k <= 36 else 7


def _index_axis(names: list[str]) -> dict:
    """Axis over positions 0..k-1 labelled with names.

    Positions rather than categories: plotly merges equal category strings, and a custom set could
    give two transforms the same label.
    """
    k = len(names)
    return dict(tickmode="array", tickvals=list(range(k)), ticktext=names,
                tickfont=dict(size=_tick_font_size(k)), showgrid=False, zeroline=False)


def prob_color(p: float) -> str:
    """Colour of a probability of the right transform: red (wrong) -> green (right)."""
    return sample_colorscale(PROB_COLORSCALE, [float(np.clip(p, 0.0, 1.0))])[0]


def _top(m: np.ndarray) -> float:
    """Largest value, for a stretched colour scale (1 when the matrix is empty or all zero)."""
    top = float(m.max()) if m.size else 0.0
    return top if top > 0 else 1.0


def softmax_heatmap(matrix: np.ndarray, names: Sequence[str], title: str = "",
                    zmax: float | None = 1.0) -> go.Figure:
    """The k x k softmax matrix: row = applied transform, column = predicted transform.

    Cells are square. The colour scale is [0, 1] by default, so matrices of different images and
    groups compare by eye; ``zmax=None`` stretches it to the matrix's largest value instead, which
    shows the structure of a weak model whose probabilities all sit near 1/k. Hover names both
    transforms and gives the probability.
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"expected a square (k, k) matrix, got shape {m.shape}")
    k = m.shape[0]
    names = _check_names(names, k, "the matrix")
    custom = np.empty((k, k, 2), dtype=object)
    custom[..., 0] = np.asarray(names, dtype=object)[:, None]
    custom[..., 1] = np.asarray(names, dtype=object)[None, :]
    fig = go.Figure(go.Heatmap(
        z=m, x=list(range(k)), y=list(range(k)), customdata=custom,
        zmin=0.0, zmax=_top(m) if zmax is None else zmax, colorscale="Viridis", colorbar=dict(title="p", thickness=12),
        hovertemplate="applied: %{customdata[0]}<br>predicted: %{customdata[1]}<br>p = %{z:.3f}<extra></extra>",
    ))
    side = int(np.clip(180 + 11 * k, 320, 900))
    fig.update_xaxes(_index_axis(names), title="predicted transform", tickangle=-90, constrain="domain")
    fig.update_yaxes(_index_axis(names), title="applied transform", autorange="reversed",
                     scaleanchor="x", scaleratio=1, constrain="domain")
    fig.update_layout(title=title or None, height=side + 80, margin=dict(l=10, r=10, t=50 if title else 10, b=10))
    return fig


def per_transform_accuracy_bars(normal_diag: np.ndarray, anomalous_diag: np.ndarray | None,
                                names: Sequence[str], title: str = "") -> go.Figure:
    """Probability of the right transform, per transform, for normal images vs anomalies.

    A transform where normal images score high is one the class is *not* invariant to, so it
    carries signal; where normal images are near chance (1/k) the class looks the same under that
    transform (e.g. a horizontal flip of an '8') and it cannot tell anomalies apart.
    """
    normal = np.asarray(normal_diag, dtype=np.float64).ravel()
    k = len(normal)
    names = _check_names(names, k, "normal_diag")
    fig = go.Figure()
    custom = np.asarray(names, dtype=object)
    fig.add_bar(x=list(range(k)), y=normal, name="normal", marker_color=NORMAL_COLOR, customdata=custom,
                hovertemplate="%{customdata}<br>normal: %{y:.3f}<extra></extra>")
    if anomalous_diag is not None:
        anomalous = np.asarray(anomalous_diag, dtype=np.float64).ravel()
        if anomalous.shape != (k,):
            raise ValueError(f"anomalous_diag has shape {anomalous.shape}, expected ({k},)")
        fig.add_bar(x=list(range(k)), y=anomalous, name="anomalous", marker_color=ANOMALY_COLOR,
                    customdata=custom, hovertemplate="%{customdata}<br>anomalous: %{y:.3f}<extra></extra>")
    fig.add_hline(y=1.0 / k, line_dash="dot", line_color="grey", annotation_text="chance (1/k)",
                  annotation_position="top right")
    fig.update_xaxes(_index_axis(names), title="transform", tickangle=-90)
    fig.update_yaxes(title="p(right transform)", range=[0, 1.02])
    fig.update_layout(title=title or None, barmode="group", bargap=0.15, height=420,
                      legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right"),
                      margin=dict(l=10, r=10, t=50 if title else 30, b=10))
    return fig


def transformed_grid(images: np.ndarray, names: Sequence[str], probs: np.ndarray,
                     order: Sequence[int] | None = None, ncols: int | None = None,
                     tile_px: int = 72, title: str = "") -> go.Figure:
    """The k transformed versions of one image, each captioned with p(right transform), colour-coded.

    One mosaic image plus text annotations (one image trace, not k subplots: far faster to draw at
    k = 72). ``order`` lays tiles out in another order than the set's (e.g. gallery.grid_order's
    flip x rotation rows); hovering a tile names its transform.
    """
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(f"expected uint8 images (k, H, W, C) with C in {{1, 3}}, got {x.dtype} {x.shape}")
    k, h, w, _ = x.shape
    names = _check_names(names, k, "images")
    p = np.asarray(probs, dtype=np.float64).ravel()
    if p.shape != (k,):
        raise ValueError(f"probs has shape {p.shape}, expected ({k},)")
    order = list(range(k)) if order is None else [int(i) for i in order]
    if sorted(order) != list(range(k)):
        raise ValueError("order must be a permutation of 0..k-1")
    ncols = ncols or (9 if k == 72 else min(k, 8))
    pad, caption = max(1, h // 16), max(6, h * 3 // 8)
    tiles = np.full((k, h + caption, w, x.shape[-1]), 255, np.uint8)  # white band under each tile
    tiles[:, :h] = x[order]
    canvas = mosaic(tiles, ncols, pad)
    rgb = canvas if canvas.shape[-1] == 3 else np.repeat(canvas, 3, axis=-1)
    fig = px.imshow(rgb, binary_string=True)  # one PNG-encoded trace: small payload, fast render
    fig.update_traces(hoverinfo="skip", hovertemplate=None)
    colors = sample_colorscale(PROB_COLORSCALE, np.clip(p, 0.0, 1.0).tolist())
    centres_x, centres_y, hover, notes = [], [], [], []
    for slot, t in enumerate(order):
        r, c = divmod(slot, ncols)
        cx, top = c * (w + pad) + w / 2, r * (h + caption + pad)
        notes.append(dict(x=cx, y=top + h + caption / 2, text=f"<b>{p[t]:.2f}</b>", showarrow=False,
                          font=dict(size=10, color=colors[t]), yanchor="middle"))
        centres_x.append(cx)
        centres_y.append(top + h / 2)
        hover.append(f"#{t} {names[t]}<br>p(right) = {p[t]:.3f}")
    # Invisible markers over the tiles carry the hover text (an image trace cannot).
    fig.add_scatter(x=centres_x, y=centres_y, mode="markers", marker=dict(size=tile_px * 0.8, opacity=0),
                    hovertext=hover, hoverinfo="text", showlegend=False)
    fig.update_layout(annotations=notes)  # one call: add_annotation per tile costs ~10 ms each
    scale = tile_px / h
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    top = 40 if title else 5
    fig.update_layout(title=title or None, margin=dict(l=5, r=5, t=top, b=5),
                      width=int(canvas.shape[1] * scale) + 10, height=int(canvas.shape[0] * scale) + top + 5)
    return fig


def contribution_bars(contrib: np.ndarray, names: Sequence[str], normal_mean: np.ndarray | None = None,
                      title: str = "") -> go.Figure:
    """Per-transform terms (alpha_t - 1) . log y(T_t(x)) of an image's Dirichlet score.

    The terms sum to the score (higher = more normal). Against the mean term of normal images the
    bars show *which* transforms make this image look odd: bars below the normal mean are red.
    """
    c = np.asarray(contrib, dtype=np.float64).ravel()
    k = len(c)
    names = _check_names(names, k, "contrib")
    ref = None
    if normal_mean is not None:
        ref = np.asarray(normal_mean, dtype=np.float64).ravel()
        if ref.shape != (k,):
            raise ValueError(f"normal_mean has shape {ref.shape}, expected ({k},)")
    colors = [NORMAL_COLOR if ref is None or c[t] >= ref[t] else ANOMALY_COLOR for t in range(k)]
    custom = np.asarray(names, dtype=object)
    fig = go.Figure(go.Bar(x=list(range(k)), y=c, marker_color=colors, name="this image", customdata=custom,
                           hovertemplate="%{customdata}<br>this image: %{y:.1f}<extra></extra>"))
    if ref is not None:
        fig.add_scatter(x=list(range(k)), y=ref, mode="markers", name="mean of normal images",
                        marker=dict(symbol="line-ew-open", size=max(6, 600 // k), color="black", line=dict(width=2)),
                        customdata=custom, hovertemplate="%{customdata}<br>normal mean: %{y:.1f}<extra></extra>")
    fig.update_xaxes(_index_axis(names), title="transform", tickangle=-90)
    fig.update_yaxes(title="contribution (higher = more normal)")
    fig.update_layout(title=title or None, height=420, showlegend=ref is not None,
                      legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right"),
                      margin=dict(l=10, r=10, t=50 if title else 30, b=10))
    return fig
