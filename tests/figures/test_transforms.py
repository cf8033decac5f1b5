"""Figure builders of the Transforms page, at k = 2 (Section 6 ablations) and k = 72 (the paper).

Values come in in the set's own order and are drawn in the display order of
explorer.figures.order; the tests read them back through the names each figure carries.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from core.transforms import TransformSet
from explorer.figures.order import transform_order
from explorer.figures.transforms import (
    contribution_bars,
    per_transform_accuracy_bars,
    prob_color,
    softmax_difference_heatmap,
    softmax_heatmap,
    transform_grid,
)

SETS = {2: TransformSet.flip(), 72: TransformSet.paper(32)}
BLOCKS = ["0°", "90°", "180°", "270°", "flip 0°", "flip 90°", "flip 180°", "flip 270°"]


@pytest.fixture(params=[2, 72], ids=["k2", "k72"])
def k(request: pytest.FixtureRequest) -> int:
    return request.param


def order_of(k: int) -> list[int]:
    return list(transform_order(SETS[k]).order)


def displayed(k: int) -> list[str]:
    return transform_order(SETS[k]).names


def softmax_rows(k: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.ones(k), size=k)


def test_softmax_heatmap_rows_are_applied_columns_predicted(k: int) -> None:
    m = softmax_rows(k)
    fig = softmax_heatmap(m, SETS[k], "mean softmax")
    assert isinstance(fig, go.Figure)
    heat = fig.data[0]
    order = order_of(k)
    np.testing.assert_allclose(np.asarray(heat.z), m[np.ix_(order, order)])
    assert (heat.zmin, heat.zmax) == (0.0, 1.0)
    assert fig.layout.yaxis.title.text == "applied transform"
    assert fig.layout.xaxis.title.text == "predicted transform"
    assert fig.layout.yaxis.autorange == "reversed"  # row 0 (identity) at the top, like a matrix
    assert fig.layout.yaxis.scaleanchor == "x"  # square cells
    # Hover names both transforms: cell (applied 1, predicted 0), in display order.
    assert tuple(heat.customdata[1][0]) == (displayed(k)[1], displayed(k)[0])
    assert "%{z" in heat.hovertemplate
    assert fig.layout.title.text == "mean softmax"


def test_a_few_transforms_are_named_one_by_one() -> None:
    fig = softmax_heatmap(softmax_rows(2), SETS[2])
    assert list(fig.layout.yaxis.ticktext) == ["id", "flip"] == list(fig.layout.xaxis.ticktext)
    assert not fig.layout.shapes  # no blocks to separate


def test_72_transforms_are_grouped_into_labelled_blocks() -> None:
    """8 labels (rotation x flip), each at the middle of its 9 shifts, and lines between the blocks,
    instead of 72 tick labels too small to read."""
    fig = softmax_heatmap(softmax_rows(72), SETS[72])
    for axis in (fig.layout.xaxis, fig.layout.yaxis):
        assert list(axis.ticktext) == BLOCKS
        assert list(axis.tickvals) == [4 + 9 * b for b in range(8)]
        assert axis.tickfont.size >= 14
    assert len(fig.layout.shapes) == 2 * 7  # 7 lines between 8 blocks, on both axes
    names = displayed(72)
    assert names[:9] == ["id", "up8 left8", "up8", "up8 right8", "left8", "right8", "down8 left8", "down8",
                         "down8 right8"]
    ts = SETS[72]
    for b in range(8):  # each block: one flip and rotation, all 9 shifts
        block = [ts[i] for i in order_of(72)[9 * b:9 * (b + 1)]]
        assert len({(t.flip, t.rot) for t in block}) == 1
        assert len({(t.shift_rows, t.shift_cols) for t in block}) == 9


def test_softmax_heatmap_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="square"):
        softmax_heatmap(np.zeros((2, 3)), SETS[2])
    with pytest.raises(ValueError, match="3 transforms but the set has 2"):
        softmax_heatmap(np.zeros((3, 3)), SETS[2])


def test_difference_heatmap_is_symmetric_around_zero() -> None:
    a, b = softmax_rows(72, 0), softmax_rows(72, 1)
    fig = softmax_difference_heatmap(a, b, SETS[72], "A − B")
    heat = fig.data[0]
    order = order_of(72)
    np.testing.assert_allclose(np.asarray(heat.z), (a - b)[np.ix_(order, order)])
    assert heat.zmid == 0 and heat.zmin == -heat.zmax == -np.abs(a - b).max()
    assert list(fig.layout.xaxis.ticktext) == BLOCKS
    with pytest.raises(ValueError):
        softmax_difference_heatmap(a, b[:2, :2], SETS[72])


def test_accuracy_bars_normal_vs_anomalous(k: int) -> None:
    normal, anomalous = np.linspace(0.2, 1.0, k), np.linspace(0.1, 0.5, k)
    fig = per_transform_accuracy_bars(normal, anomalous, SETS[k])
    assert [t.name for t in fig.data] == ["normal", "anomalous"]
    np.testing.assert_allclose(fig.data[0].y, normal[order_of(k)])
    np.testing.assert_allclose(fig.data[1].y, anomalous[order_of(k)])
    assert list(fig.data[0].customdata) == displayed(k)
    assert list(fig.layout.xaxis.ticktext) == (BLOCKS if k == 72 else displayed(k))
    chance = [s for s in fig.layout.shapes if s.y0 == s.y1]
    assert chance and chance[0].y0 == pytest.approx(1 / k)
    # the legend sits above the plot, centred, clear of the chart toolbar at the right end
    assert fig.layout.legend.xanchor == "center" and fig.layout.legend.yanchor == "bottom"


def test_accuracy_bars_without_anomalies_and_bad_shapes() -> None:
    fig = per_transform_accuracy_bars(np.ones(2), None, SETS[2])
    assert len(fig.data) == 1
    with pytest.raises(ValueError):
        per_transform_accuracy_bars(np.ones(2), np.ones(3), SETS[2])


def test_transform_grid_one_caption_per_tile(k: int) -> None:
    images = np.random.default_rng(0).integers(0, 256, (k, 32, 32, 1), dtype=np.uint8)
    probs = np.linspace(0, 1, k)
    fig = transform_grid(images, SETS[k], probs)
    captions = [a.text for a in fig.layout.annotations if a.text.startswith("<b>")]
    assert len(captions) == k
    assert sorted(captions) == sorted(f"<b>{p:.2f}</b>" for p in probs)
    colours = {a.font.color for a in fig.layout.annotations if a.text.startswith("<b>")}
    assert len(colours) > 1  # colour-coded
    hover = fig.data[1].hovertext
    assert [h.split("<br>")[0].split(" ", 1)[1] for h in hover] == displayed(k)
    assert fig.layout.width > 0 and fig.layout.height > 0


def test_transform_grid_lays_paper72_out_as_rotation_rows_of_shifts() -> None:
    """8 rows labelled by rotation (unflipped, then flipped), 9 columns labelled by shift, and no
    caption per tile: 17 labels instead of 72 names."""
    ts = SETS[72]
    images = np.zeros((72, 32, 32, 3), np.uint8)
    fig = transform_grid(images, ts)
    texts = [a.text for a in fig.layout.annotations]
    assert texts[:8] == BLOCKS
    assert [t.replace("<br>", " ") for t in texts[8:]] == ["no shift", "up8 left8", "up8", "up8 right8", "left8",
                                                           "right8", "down8 left8", "down8", "down8 right8"]
    assert all(t.count("<br>") <= 1 for t in texts)  # at most two lines, narrower than a tile
    assert all(a.font.size >= 14 for a in fig.layout.annotations[:8])
    rows = sorted({round(y) for y in fig.data[1].y})
    assert len(rows) == 8 and len(set(fig.data[1].x)) == 9
    with pytest.raises(ValueError, match="uint8"):
        transform_grid(images.astype(np.float32), ts)
    with pytest.raises(ValueError, match="10 transforms"):
        transform_grid(images[:10], ts)


def test_transform_grid_leaves_the_cells_of_a_subset_empty() -> None:
    """26 of the 72: a row per rotation the set has, a column per shift it has, tiles where they belong."""
    paper = SETS[72]
    subset = TransformSet(tuple(paper[i] for i in range(24)) + (paper[36], paper[38]))
    images = np.full((26, 32, 32, 1), 128, np.uint8)
    fig = transform_grid(images, subset, np.full(26, 0.5))
    labels = [a.text.replace("<br>", " ") for a in fig.layout.annotations if not a.text.startswith("<b>")]
    assert labels == ["0°", "90°", "180°", "270°", "flip 0°", "flip 180°", "no shift", "left8", "right8",
                      "down8 left8", "down8", "down8 right8"]
    assert len(fig.data[1].hovertext) == 26


def test_prob_color_goes_red_to_green() -> None:
    assert prob_color(0.0) != prob_color(1.0)
    assert prob_color(-1.0) == prob_color(0.0) and prob_color(2.0) == prob_color(1.0)


def test_contribution_bars_against_normal_mean(k: int) -> None:
    contrib = -np.arange(k, dtype=float)
    normal = np.full(k, -0.5)
    fig = contribution_bars(contrib, SETS[k], normal)
    np.testing.assert_allclose(fig.data[0].y, contrib[order_of(k)])
    np.testing.assert_allclose(fig.data[1].y, normal)
    colours = list(fig.data[0].marker.color)
    assert colours[0] != colours[-1]  # at or above the normal mean vs below it
    assert list(fig.data[0].customdata) == displayed(k)


def test_contribution_bars_alone() -> None:
    fig = contribution_bars(np.array([-1.0, -2.0]), SETS[2])
    assert len(fig.data) == 1 and not fig.layout.showlegend
    with pytest.raises(ValueError):
        contribution_bars(np.ones(2), SETS[2], np.ones(3))


def test_softmax_heatmap_can_stretch_its_colour_scale() -> None:
    weak = np.full((72, 72), 1 / 72)
    weak[np.arange(72), np.arange(72)] = 0.05
    assert softmax_heatmap(weak, SETS[72], zmax=None).data[0].zmax == pytest.approx(0.05)
    assert softmax_heatmap(np.zeros((2, 2)), SETS[2], zmax=None).data[0].zmax == 1.0
