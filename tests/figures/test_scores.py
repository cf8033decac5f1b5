"""Figure builders of the Scores page and the image galleries: the right traces, axes, numbers that match sklearn."""

from __future__ import annotations

import re

import numpy as np
import plotly.graph_objects as go
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from core.metrics import auroc_per_class, rates_at_threshold, threshold_at_tpr
from explorer.figures.gallery import display_images, enlarge, image_grid, mosaic
from explorer.figures.scores import per_class_auroc_figure, pr_figure, roc_figure, score_histogram


@pytest.fixture
def synthetic() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class 3 is normal; anomalies of classes 0..9 overlap it to different degrees."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 600)
    is_normal = labels == 3
    scores = rng.normal(size=600) + 2.0 * is_normal + 0.2 * labels
    return labels, is_normal, scores


def _legend_number(name: str, key: str) -> float:
    return float(re.search(rf"{key} ([0-9.]+)", name).group(1))


def test_roc_figure_traces_axes_and_auroc(synthetic) -> None:
    _, y, s = synthetic
    fig = roc_figure(y, s)
    assert isinstance(fig, go.Figure)
    chance, curve = fig.data
    assert list(chance.x) == [0, 1] and list(chance.y) == [0, 1]
    assert _legend_number(curve.name, "AUROC") == round(100 * roc_auc_score(y, s), 1)
    assert curve.x[0] == 0 and curve.x[-1] == 1 and curve.y[-1] == 1
    assert tuple(fig.layout.xaxis.range) == (0, 1) and fig.layout.yaxis.range[0] == 0
    assert not fig.layout.annotations
    assert "93.5" in roc_figure(y, s, paper_auroc=0.935).layout.annotations[0].text


def test_pr_figure_aupr_in_and_no_skill_line(synthetic) -> None:
    _, y, s = synthetic
    no_skill, curve = pr_figure(y, s).data
    assert _legend_number(curve.name, "AUPR-in") == round(100 * average_precision_score(y, s), 1)
    assert no_skill.y[0] == pytest.approx(y.mean())
    assert "40.0" in pr_figure(y, s, paper_aupr_in=0.4).layout.annotations[0].text


def test_score_histogram_groups_share_bins_and_threshold_line(synthetic) -> None:
    _, y, s = synthetic
    fig = score_histogram(y, s, threshold=0.5)
    normal, anomalous = fig.data
    assert normal.name == f"normal ({y.sum()})" and anomalous.name == f"anomalous ({(~y).sum()})"
    assert len(normal.x) == y.sum() and len(anomalous.x) == (~y).sum()
    assert normal.xbins.to_plotly_json() == anomalous.xbins.to_plotly_json()
    assert normal.histnorm == "probability" and fig.layout.barmode == "overlay"
    assert [shape.x0 for shape in fig.layout.shapes] == [0.5]
    assert not score_histogram(y, s).layout.shapes


def test_score_histogram_marks_the_saved_threshold_apart_from_the_slider(synthetic) -> None:
    _, y, s = synthetic
    fig = score_histogram(y, s, threshold=0.5, saved_threshold=0.3)
    assert [shape.x0 for shape in fig.layout.shapes] == [0.5, 0.3]
    assert [shape.line.dash for shape in fig.layout.shapes] == ["dot", "dash"]
    assert [a.text for a in fig.layout.annotations] == ["threshold", "saved threshold"]


def test_score_histogram_of_normal_only_scores_has_one_group() -> None:
    (normal,) = score_histogram(np.ones(5, bool), np.arange(5.0)).data
    assert normal.name == "normal (5)" and len(normal.x) == 5


def test_score_histogram_handles_constant_and_huge_scores() -> None:
    y = np.array([True, False, True, False])
    assert score_histogram(y, np.full(4, -3.0e6)).data[0].xbins.size == 1.0
    fig = score_histogram(y, np.array([-3.0671e6, -3.0789e6, -3.0665e6, -3.0801e6]))
    assert fig.data[0].xbins.size == pytest.approx((3.0801e6 - 3.0665e6) / 40)


def test_auroc_per_class_on_a_constructed_example() -> None:
    # Normal scores 10..19. Class 1 sits entirely below them (AUROC 1), class 2 entirely above
    # (AUROC 0), class 5 interleaves with them (AUROC 0.5 by symmetry).
    normal = np.arange(10, 20, dtype=float)
    below, above, mixed = np.arange(0, 5, dtype=float), np.arange(30, 35, dtype=float), normal.copy()
    scores = np.concatenate([normal, below, above, mixed])
    labels = np.array([7] * 10 + [1] * 5 + [2] * 5 + [5] * 10)
    is_normal = labels == 7
    per = auroc_per_class(labels, is_normal, scores)
    assert per == {1: 1.0, 2: 0.0, 5: 0.5}
    for c, value in per.items():
        keep = is_normal | (labels == c)
        assert value == pytest.approx(roc_auc_score(is_normal[keep], scores[keep]))


def test_per_class_auroc_figure(synthetic) -> None:
    labels, y, s = synthetic
    per = auroc_per_class(labels, y, s)
    assert sorted(per) == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    names = [f"c{i}" for i in range(10)]
    fig = per_class_auroc_figure(per, names, overall=roc_auc_score(y, s))
    bars, overall = fig.data
    assert list(bars.x) == [f"{i} - c{i}" for i in sorted(per)]
    assert list(bars.y) == pytest.approx([100 * per[i] for i in sorted(per)])
    assert fig.layout.xaxis.type == "category" and tuple(fig.layout.yaxis.range) == (0, 118)
    assert overall.name == f"all anomalies ({100 * roc_auc_score(y, s):.1f})"
    assert list(overall.y) == pytest.approx([100 * roc_auc_score(y, s)] * len(per))
    # Classes named by their own id (digits, MNIST) are not shown as "3 - 3".
    assert list(per_class_auroc_figure(per, [str(i) for i in range(10)]).data[0].x)[:2] == ["0", "1"]


def test_threshold_at_tpr_is_the_highest_threshold_reaching_the_tpr(synthetic) -> None:
    _, y, s = synthetic
    for tpr in (0.5, 0.9, 0.95, 1.0):
        t = threshold_at_tpr(y, s, tpr)
        assert rates_at_threshold(y, s, t)["tpr"] >= tpr
        assert rates_at_threshold(y, s, np.nextafter(t, np.inf))["tpr"] < tpr
    with pytest.raises(ValueError):
        threshold_at_tpr(y, s, 0.0)
    with pytest.raises(ValueError):
        threshold_at_tpr(np.zeros(3, bool), np.arange(3.0))


# ----- gallery ---------------------------------------------------------------------------------


def test_mosaic_enlarge_and_display_images() -> None:
    x = np.arange(5 * 4 * 3, dtype=np.uint8).reshape(5, 4, 3, 1)
    m = mosaic(x, ncols=2, pad=1)
    assert m.shape == (3 * 5 - 1, 2 * 4 - 1, 1)
    assert (m[:4, :3] == x[0]).all() and (m[5:9, 4:7] == x[3]).all() and (m[10:, 4:] == 255).all()
    big = enlarge(x, min_side=10)
    assert big.shape == (5, 12, 9, 1) and (big[0, :3, :3, 0] == x[0, 0, 0, 0]).all()
    shown = display_images(x, min_side=8)
    assert len(shown) == 5 and shown[0].shape == (8, 6)  # grayscale as 2-D for st.image
    assert display_images(np.zeros((2, 32, 32, 3), np.uint8))[0].shape == (96, 96, 3)
    with pytest.raises(ValueError):
        mosaic(np.zeros((2, 4, 4, 2), np.uint8), 2)


def test_image_grid_one_trace_and_a_caption_per_tile() -> None:
    x = np.zeros((10, 32, 32, 3), np.uint8)
    fig = image_grid(x, [f"img {i}" for i in range(10)], ncols=4, tile_px=64)
    assert len(fig.data) == 1 and fig.data[0].type == "image"
    assert [a.text for a in fig.layout.annotations] == [f"img {i}" for i in range(10)]
    # Captions of one row share a y; the next row's sit lower (plotly image y grows downwards).
    ys = [a.y for a in fig.layout.annotations]
    assert ys[0] == ys[3] < ys[4]
    assert not image_grid(x[:3]).layout.annotations
    with pytest.raises(ValueError):
        image_grid(x, ["only one"])
