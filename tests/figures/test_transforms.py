"""Figure builders of the Transforms page, at k = 2 (Section 6 ablations) and k = 72 (the paper)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from core.transforms import TransformSet
from explorer.figures.transforms import (
    contribution_bars,
    per_transform_accuracy_bars,
    prob_color,
    softmax_heatmap,
    transformed_grid,
)

SETS = {2: TransformSet.flip(), 72: TransformSet.paper(32)}


@pytest.fixture(params=[2, 72], ids=["k2", "k72"])
def k(request: pytest.FixtureRequest) -> int:
    return request.param


def names_for(k: int) -> list[str]:
    return SETS[k].names


def softmax_rows(k: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.ones(k), size=k)


def test_softmax_heatmap_rows_are_applied_columns_predicted(k: int) -> None:
    m = softmax_rows(k)
    fig = softmax_heatmap(m, names_for(k), "mean softmax")
    assert isinstance(fig, go.Figure)
    heat = fig.data[0]
    np.testing.assert_allclose(np.asarray(heat.z), m)
    assert (heat.zmin, heat.zmax) == (0.0, 1.0)
    assert list(fig.layout.yaxis.ticktext) == names_for(k) == list(fig.layout.xaxis.ticktext)
    assert fig.layout.yaxis.title.text == "applied transform"
    assert fig.layout.xaxis.title.text == "predicted transform"
    assert fig.layout.yaxis.autorange == "reversed"  # row 0 (identity) at the top, like a matrix
    assert fig.layout.yaxis.scaleanchor == "x"  # square cells
    # Hover names both transforms: cell (applied 1, predicted 0).
    assert tuple(heat.customdata[1][0]) == (names_for(k)[1], names_for(k)[0])
    assert "%{z" in heat.hovertemplate
    assert fig.layout.title.text == "mean softmax"


def test_softmax_heatmap_uses_small_ticks_for_many_transforms() -> None:
    small = softmax_heatmap(softmax_rows(2), names_for(2))
    big = softmax_heatmap(softmax_rows(72), names_for(72))
    assert big.layout.yaxis.tickfont.size < small.layout.yaxis.tickfont.size
    assert big.layout.height > small.layout.height


def test_softmax_heatmap_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="square"):
        softmax_heatmap(np.zeros((2, 3)), ["a", "b"])
    with pytest.raises(ValueError, match="names"):
        softmax_heatmap(np.zeros((2, 2)), ["a"])


def test_softmax_heatmap_survives_duplicate_names() -> None:
    fig = softmax_heatmap(softmax_rows(2), ["same", "same"])
    assert list(fig.data[0].x) == [0, 1]  # positions, so plotly cannot merge the two rows


def test_accuracy_bars_normal_vs_anomalous(k: int) -> None:
    normal, anomalous = np.linspace(0.2, 1.0, k), np.linspace(0.1, 0.5, k)
    fig = per_transform_accuracy_bars(normal, anomalous, names_for(k))
    assert [t.name for t in fig.data] == ["normal", "anomalous"]
    np.testing.assert_allclose(fig.data[0].y, normal)
    np.testing.assert_allclose(fig.data[1].y, anomalous)
    assert list(fig.layout.xaxis.ticktext) == names_for(k)
    chance = [s for s in fig.layout.shapes if s.y0 == s.y1]
    assert chance and chance[0].y0 == pytest.approx(1 / k)


def test_accuracy_bars_without_anomalies_and_bad_shapes() -> None:
    fig = per_transform_accuracy_bars(np.ones(2), None, names_for(2))
    assert len(fig.data) == 1
    with pytest.raises(ValueError):
        per_transform_accuracy_bars(np.ones(2), np.ones(3), names_for(2))


def test_transformed_grid_one_caption_per_tile(k: int) -> None:
    images = np.random.default_rng(0).integers(0, 256, (k, 32, 32, 1), dtype=np.uint8)
    probs = np.linspace(0, 1, k)
    fig = transformed_grid(images, names_for(k), probs)
    captions = [a.text for a in fig.layout.annotations]
    assert len(captions) == k
    assert captions[-1] == "<b>1.00</b>" and captions[0] == "<b>0.00</b>"
    assert fig.layout.annotations[0].font.color != fig.layout.annotations[-1].font.color  # colour-coded
    hover = fig.data[1].hovertext
    assert len(hover) == k and names_for(k)[-1] in hover[-1]
    assert fig.layout.width > 0 and fig.layout.height > 0


def test_transformed_grid_order_and_colour_images() -> None:
    images = np.zeros((72, 32, 32, 3), np.uint8)
    order = list(range(71, -1, -1))
    probs = np.linspace(0, 1, 72)
    fig = transformed_grid(images, names_for(72), probs, order=order)
    assert fig.layout.annotations[0].text == f"<b>{probs[71]:.2f}</b>"  # first slot shows transform 71
    assert fig.data[1].hovertext[0].startswith("#71 ")
    with pytest.raises(ValueError, match="permutation"):
        transformed_grid(images, names_for(72), probs, order=[0] * 72)
    with pytest.raises(ValueError, match="uint8"):
        transformed_grid(images.astype(np.float32), names_for(72), probs)


def test_prob_color_goes_red_to_green() -> None:
    assert prob_color(0.0) != prob_color(1.0)
    assert prob_color(-1.0) == prob_color(0.0) and prob_color(2.0) == prob_color(1.0)


def test_contribution_bars_against_normal_mean(k: int) -> None:
    contrib = -np.arange(k, dtype=float)
    normal = np.full(k, -0.5)
    fig = contribution_bars(contrib, names_for(k), normal)
    np.testing.assert_allclose(fig.data[0].y, contrib)
    np.testing.assert_allclose(fig.data[1].y, normal)
    colours = list(fig.data[0].marker.color)
    assert colours[0] != colours[-1]  # at or above the normal mean vs below it
    assert list(fig.layout.xaxis.ticktext) == names_for(k)


def test_contribution_bars_alone() -> None:
    fig = contribution_bars(np.array([-1.0, -2.0]), names_for(2))
    assert len(fig.data) == 1 and not fig.layout.showlegend
    with pytest.raises(ValueError):
        contribution_bars(np.ones(2), names_for(2), np.ones(3))


def test_softmax_heatmap_can_stretch_its_colour_scale() -> None:
    weak = np.full((72, 72), 1 / 72)
    weak[np.arange(72), np.arange(72)] = 0.05
    assert softmax_heatmap(weak, names_for(72), zmax=None).data[0].zmax == pytest.approx(0.05)
    assert softmax_heatmap(np.zeros((2, 2)), names_for(2), zmax=None).data[0].zmax == 1.0
