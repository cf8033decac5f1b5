"""Plotly figures of the "Why it works" pages (paper Section 6): ablations, gradient ascent, attributions.

Plain functions from arrays to ``go.Figure``, so they are tested without Streamlit and reused by the
notebook. Images come in as uint8 (H, W, C) or (N, H, W, C); small images are drawn pixel-exact
(``go.Image`` keeps pixels square and crisp).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.metrics import mean_sem, mean_sem_text
from core.scores import format_score
from explorer.figures.order import NAMED_UP_TO, Transforms, transform_order
from explorer.figures.style import ANOMALY_COLOR, NORMAL_COLOR, PAPER_COLOR

# Diverging, transparent in the middle: an attribution overlay shows only where it is large.
OVERLAY_SCALE = [[0.0, "rgba(33,102,172,0.95)"], [0.3, "rgba(103,169,207,0.6)"], [0.42, "rgba(209,229,240,0)"],
                 [0.58, "rgba(253,219,199,0)"], [0.7, "rgba(239,138,98,0.6)"], [1.0, "rgba(178,24,43,0.95)"]]
# Sequential for non-negative maps (Saliency): transparent below a fifth of the largest value.
OVERLAY_SCALE_POSITIVE = [[0.0, "rgba(255,255,178,0)"], [0.2, "rgba(254,204,92,0)"], [0.45, "rgba(253,141,60,0.55)"],
                          [1.0, "rgba(189,0,38,0.95)"]]
DIFF_SCALE = "RdBu_r"


def _rgb(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W), (H, W, 1) or (H, W, 3) -> (H, W, 3)."""
    x = np.asarray(image)
    if x.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {x.dtype}")
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim != 3 or x.shape[-1] not in (1, 3):
        raise ValueError(f"expected an image (H, W[, C]) with C in {{1, 3}}, got {x.shape}")
    return np.repeat(x, 3, -1) if x.shape[-1] == 1 else x


def _clean_axes(fig: go.Figure) -> go.Figure:
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, ticks="")
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, ticks="")
    return fig


# ----- ablations ------------------------------------------------------------------------------------
def transform_examples_figure(examples: Mapping[str, np.ndarray], transform_names: Sequence[str],
                              column_titles: Mapping[str, str] | None = None, tile_px: int = 80) -> go.Figure:
    """Sample images (columns: normal ones first, then anomalous) under each transform (rows).

    ``examples``: {"normal": uint8 (n, k, H, W, C), "anomaly": ...} as core.ablation.transformed_examples
    returns. A class's invariance shows as near-identical rows: an '8' and its mirror image look alike.
    """
    groups = [(key, np.asarray(v)) for key, v in examples.items() if len(v)]
    if not groups:
        raise ValueError("no example images")
    k = groups[0][1].shape[1]
    if len(transform_names) != k or any(v.shape[1] != k for _, v in groups):
        raise ValueError(f"{len(transform_names)} transform names for {k} transforms")
    titles = column_titles or {}
    columns = [(f"{titles.get(key, key)}", imgs[i]) for key, imgs in groups for i in range(len(imgs))]
    n_cols = len(columns)
    fig = make_subplots(rows=k, cols=n_cols, horizontal_spacing=0.01, vertical_spacing=0.02,
                        column_titles=[c[0] for c in columns], row_titles=list(transform_names))
    for c, (_, imgs) in enumerate(columns):
        for t in range(k):
            fig.add_trace(go.Image(z=_rgb(imgs[t]), hoverinfo="skip"), row=t + 1, col=c + 1)
    fig.update_layout(height=50 + tile_px * k, width=90 + tile_px * n_cols, margin=dict(l=10, r=80, t=40, b=10))
    fig.for_each_annotation(lambda a: a.update(font_size=11))
    return _clean_axes(fig)


def confusion_figure(softmax_normal: np.ndarray, softmax_anomalous: np.ndarray, transforms: Transforms,
                     normal_label: str = "normal", anomaly_label: str = "anomalous") -> go.Figure:
    """The transform classifier's mean softmax (row: transform applied, column: predicted) on both groups.

    Mean probabilities rather than the share of argmax wins: a classifier that picks the right
    transform on every image with p = 0.51 and one that is sure of it look alike by their wins, and
    the Dirichlet score sees the difference. Rows and columns in the transforms' display order.
    """
    layout = transform_order(transforms)
    k = len(layout.order)
    cn, ca = np.asarray(softmax_normal, float), np.asarray(softmax_anomalous, float)
    if cn.shape != (k, k) or ca.shape != (k, k):
        raise ValueError(f"softmax matrices must be {k}x{k}, got {cn.shape} and {ca.shape}")
    order = list(layout.order)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=[f"normal test images ({normal_label})", f"anomalies ({anomaly_label})"])
    names = layout.names
    for col, m in ((1, cn), (2, ca)):
        m = m[np.ix_(order, order)]
        text = [[f"{v:.2f}" for v in row] for row in m] if k <= NAMED_UP_TO else None
        fig.add_trace(go.Heatmap(z=m, x=names, y=names, zmin=0, zmax=1, colorscale="Blues", showscale=col == 2,
                                 text=text, texttemplate="%{text}" if text else None,
                                 hovertemplate="applied %{y}<br>predicted %{x}<br>mean p %{z:.3f}<extra></extra>",
                                 colorbar=dict(title="mean p")), row=1, col=col)
        fig.update_xaxes(title_text="predicted transform", side="bottom", row=1, col=col)
        fig.update_yaxes(title_text="applied transform" if col == 1 else None, autorange="reversed", row=1, col=col)
    fig.update_layout(height=330, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def seed_auroc_figure(experiments: Sequence[tuple[str, Sequence[float], float | None]]) -> go.Figure:
    """AUROC per experiment: one dot per seed, the mean +- SEM, and the paper's value.

    ``experiments``: (label, per-seed AUROCs, paper AUROC or None).
    """
    fig = go.Figure()
    for i, (label, values, paper) in enumerate(experiments):
        v = np.asarray(values, float)
        if v.size == 0:
            continue
        mean, sem = mean_sem(v)
        fig.add_trace(go.Scatter(x=[label] * v.size, y=v, mode="markers",
                                 marker=dict(color=NORMAL_COLOR, size=7, opacity=0.5),
                                 name="seeds", legendgroup="seeds", showlegend=i == 0,
                                 hovertemplate="%{y:.3f}<extra>one seed</extra>"))
        # One seed has no spread to show: no error bar, and no "± 0.000" that would claim one.
        fig.add_trace(go.Scatter(x=[label], y=[mean], mode="markers",
                                 error_y=dict(type="data", array=[sem], width=10, visible=v.size > 1),
                                 marker=dict(color=NORMAL_COLOR, size=13, symbol="diamond"), name="ours: mean ± SEM",
                                 legendgroup="mean", showlegend=i == 0,
                                 hovertemplate=f"{mean_sem_text(v)}<extra>{v.size} seed(s)</extra>"))
        if paper is not None:
            fig.add_trace(go.Scatter(x=[label], y=[paper], mode="markers",
                                     marker=dict(color=PAPER_COLOR, size=14, symbol="x"), name="paper",
                                     legendgroup="paper", showlegend=not any(t.name == "paper" for t in fig.data),
                                     hovertemplate=f"paper {paper:.3f}<extra></extra>"))
    fig.update_yaxes(title_text="AUROC (normal = positive)", range=[0, 1.02])
    fig.add_hline(y=0.5, line_dash="dot", line_color="#999", annotation_text="chance",
                  annotation_position="bottom right")
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.12))
    return fig


# ----- gradient ascent ------------------------------------------------------------------------------
def frames_figure(frames: np.ndarray, frame_steps: Sequence[int], scores: Sequence[float] | None = None,
                  size_px: int = 320) -> go.Figure:
    """An animation of the optimised image: play button and a slider over the saved frames.

    ``frames``: uint8 (F, H, W, C); ``scores``: the score at each frame (shown in the title).
    """
    f = np.asarray(frames)
    if f.ndim != 4 or len(f) != len(frame_steps):
        raise ValueError(f"frames (F, H, W, C) and frame_steps must match, got {f.shape} and {len(frame_steps)}")

    def title(i: int) -> str:
        return f"step {frame_steps[i]}" + ("" if scores is None else f" · score {format_score(scores[i])}")

    fig = go.Figure(data=[go.Image(z=_rgb(f[0]), hoverinfo="skip")],
                    frames=[go.Frame(data=[go.Image(z=_rgb(f[i]))], name=str(i), layout=go.Layout(title_text=title(i)))
                            for i in range(len(f))])
    still = dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))
    slider_steps = [dict(method="animate", label=str(frame_steps[i]), args=[[str(i)], still]) for i in range(len(f))]
    fig.update_layout(
        title_text=title(0), width=size_px, height=size_px + 130, margin=dict(l=10, r=10, t=40, b=10),
        updatemenus=[dict(type="buttons", showactive=False, x=0, y=-0.05, xanchor="left", yanchor="top",
                          buttons=[dict(label="▶ play", method="animate",
                                        args=[None, dict(frame=dict(duration=120, redraw=True), fromcurrent=True,
                                                         transition=dict(duration=0))])])],
        sliders=[dict(active=0, steps=slider_steps, x=0.25, len=0.75, y=-0.02, currentvalue=dict(prefix="step "),
                      pad=dict(t=10))],
    )
    return _clean_axes(fig)


def score_curve_figure(curves: Mapping[str, np.ndarray], maximised: str | None = None) -> go.Figure:
    """Score per step, one panel per score (they live on different scales)."""
    names = list(curves)
    if not names:
        raise ValueError("no score curves")
    fig = make_subplots(rows=1, cols=len(names), horizontal_spacing=0.12,
                        subplot_titles=[f"{m} score" + (" (maximised)" if m == maximised else "") for m in names])
    for i, m in enumerate(names):
        c = np.asarray(curves[m], float)
        c = c[:, None] if c.ndim == 1 else c
        for j in range(c.shape[1]):
            fig.add_trace(go.Scatter(y=c[:, j], mode="lines", name=f"{m} #{j + 1}" if c.shape[1] > 1 else m,
                                     line=dict(color=NORMAL_COLOR if m == maximised else ANOMALY_COLOR),
                                     showlegend=False,
                                     hovertemplate="step %{x}<br>%{y:.4g}<extra></extra>"), row=1, col=i + 1)
        fig.update_xaxes(title_text="step", row=1, col=i + 1)
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def ascent_comparison_figure(
        start: np.ndarray, final: np.ndarray, difference: np.ndarray,
        titles: Sequence[str] = ("start", "after ascent", "difference (red: added ink)")) -> go.Figure:
    """Start image, optimised image and the signed difference (final - start, summed over channels)."""
    d = np.asarray(difference, float)
    d = d.sum(0) if d.ndim == 3 else d
    lim = max(float(np.abs(d).max()), 1e-6)
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.04, subplot_titles=list(titles))
    fig.add_trace(go.Image(z=_rgb(start), hoverinfo="skip"), row=1, col=1)
    fig.add_trace(go.Image(z=_rgb(final), hoverinfo="skip"), row=1, col=2)
    fig.add_trace(go.Heatmap(z=d, zmin=-lim, zmax=lim, zmid=0, colorscale=DIFF_SCALE,
                             colorbar=dict(title="Δ pixel", len=0.8),
                             hovertemplate="(%{x}, %{y}) Δ %{z:.3f}<extra></extra>"), row=1, col=3)
    fig.update_yaxes(autorange="reversed", scaleanchor="x3", row=1, col=3)
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=40, b=10))
    return _clean_axes(fig)


# ----- attributions ---------------------------------------------------------------------------------
def attribution_overlay_figure(images: Sequence[np.ndarray], maps: Sequence[np.ndarray], titles: Sequence[str],
                               shared_scale: bool = True, cols: int | None = None, tile_px: int = 260) -> go.Figure:
    """Each image with its attribution map (H, W) on top (transparent where small).

    Signed maps use a red (raises the target) / blue (lowers it) scale; non-negative maps (Saliency)
    a yellow-red one. ``shared_scale``: one colour range for all panels, so they compare.
    """
    if not (len(images) == len(maps) == len(titles)) or not images:
        raise ValueError("need as many images, maps and titles, at least one")
    ms = [np.asarray(m, float) for m in maps]
    for img, m in zip(images, ms, strict=True):
        if m.shape != _rgb(img).shape[:2]:
            raise ValueError(f"a map of shape {m.shape} does not fit its image of shape {np.asarray(img).shape}")
    positive = all(float(m.min()) >= 0 for m in ms)
    scale = OVERLAY_SCALE_POSITIVE if positive else OVERLAY_SCALE
    n = len(images)
    cols = cols or n
    rows = -(-n // cols)
    fig = make_subplots(rows=rows, cols=cols, horizontal_spacing=0.03, vertical_spacing=0.08,
                        subplot_titles=list(titles))
    global_lim = max(max(float(np.abs(m).max()) for m in ms), 1e-12)
    for i, (img, m) in enumerate(zip(images, ms, strict=True)):
        r, c = i // cols + 1, i % cols + 1
        lim = global_lim if shared_scale else max(float(np.abs(m).max()), 1e-12)
        fig.add_trace(go.Image(z=_rgb(img), hoverinfo="skip"), row=r, col=c)
        fig.add_trace(go.Heatmap(z=m, zmin=0 if positive else -lim, zmax=lim, colorscale=scale,
                                 showscale=i == 0 or not shared_scale,
                                 colorbar=dict(title="attribution", len=0.8 / rows, thickness=12),
                                 hovertemplate="(%{x}, %{y}) %{z:.3g}<extra></extra>"), row=r, col=c)
    fig.update_layout(height=60 + tile_px * rows, margin=dict(l=10, r=10, t=40, b=10))
    return _clean_axes(fig)


def cases_caption(label: str, score: float, percentile: float) -> str:
    """A short caption for a test image in a gallery: class, score and its percentile among normals."""
    return f"{label} · p{percentile:.0f} of normals<br>score {format_score(score)}"
