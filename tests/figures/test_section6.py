"""explorer/figures/section6.py: the figures of the "Why it works" pages and the notebook's Section 6."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from core.transforms import TransformSet
from explorer.figures import section6 as fig6


def rng_images(n: int, h: int = 32, c: int = 1, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, h, h, c), dtype=np.uint8)


def test_transform_examples_figure_has_one_tile_per_image_and_transform() -> None:
    ex = {"normal": rng_images(6).reshape(3, 2, 32, 32, 1), "anomaly": rng_images(4).reshape(2, 2, 32, 32, 1)}
    fig = fig6.transform_examples_figure(ex, ["id", "flip"], {"normal": "8", "anomaly": "3"})
    assert sum(isinstance(t, go.Image) for t in fig.data) == 10
    assert [a.text for a in fig.layout.annotations][:5] == ["8", "8", "8", "3", "3"]  # one column per sample
    with pytest.raises(ValueError):
        fig6.transform_examples_figure(ex, ["id"])


def test_confusion_figure_two_heatmaps_of_mean_probabilities() -> None:
    cn = np.array([[0.9, 0.1], [0.2, 0.8]])
    fig = fig6.confusion_figure(cn, np.eye(2), TransformSet.flip(), "8", "3")
    heat = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert len(heat) == 2 and heat[0].text[0][0] == "0.90" and "%" not in heat[0].text[0][1]
    assert heat[1].colorbar.title.text == "mean p" and "mean p" in heat[0].hovertemplate
    assert list(heat[0].x) == ["id", "flip"]
    with pytest.raises(ValueError):
        fig6.confusion_figure(np.eye(3), np.eye(2), TransformSet.flip())


def test_seed_auroc_figure_mean_sem_and_paper() -> None:
    fig = fig6.seed_auroc_figure([("8v3-flip", [0.6, 0.7, 0.65], 0.646), ("custom", [0.9], None)])
    means = [t for t in fig.data if t.name == "ours: mean ± SEM"]
    assert means[0].y[0] == pytest.approx(0.65)
    assert means[0].error_y.array[0] == pytest.approx(np.std([0.6, 0.7, 0.65], ddof=1) / np.sqrt(3))
    assert sum(t.name == "paper" for t in fig.data) == 1
    assert means[0].error_y.visible and not means[1].error_y.visible  # one seed: no "± 0.000" bar
    assert "±" in means[0].hovertemplate and "±" not in means[1].hovertemplate


def test_frames_figure_is_an_animation_with_a_slider() -> None:
    frames = rng_images(5)
    fig = fig6.frames_figure(frames, [0, 5, 10, 15, 20], [0.1, 0.2, 0.3, 0.4, 0.5])
    assert len(fig.frames) == 5 and len(fig.layout.sliders[0].steps) == 5
    assert "score 0.1" in fig.layout.title.text
    with pytest.raises(ValueError):
        fig6.frames_figure(frames, [0, 1])


def test_score_curve_and_comparison_figures() -> None:
    fig = fig6.score_curve_figure({"simple": np.linspace(0, 1, 11), "dirichlet": np.linspace(-5, 1, 11)}, "simple")
    assert len(fig.data) == 2 and "maximised" in fig.layout.annotations[0].text
    img = rng_images(2)
    diff = np.random.default_rng(1).normal(size=(1, 32, 32))
    fig = fig6.ascent_comparison_figure(img[0], img[1], diff)
    heat = [t for t in fig.data if isinstance(t, go.Heatmap)][0]
    assert heat.zmin == -heat.zmax and np.asarray(heat.z).shape == (32, 32)


def test_attribution_overlay_shapes_and_scales() -> None:
    imgs = list(rng_images(2))
    signed = [np.random.default_rng(i).normal(size=(32, 32)) for i in range(2)]
    fig = fig6.attribution_overlay_figure(imgs, signed, ["a", "b"])
    heat = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert len(heat) == 2 and heat[0].zmin < 0 and heat[0].zmax == heat[1].zmax  # one shared scale
    fig = fig6.attribution_overlay_figure(imgs, [np.abs(m) for m in signed], ["a", "b"])
    assert [t for t in fig.data if isinstance(t, go.Heatmap)][0].zmin == 0  # saliency: sequential
    rgb = rng_images(1, c=3)[0]
    assert len(fig6.attribution_overlay_figure([rgb], [signed[0]], ["rgb"]).data) == 2
    with pytest.raises(ValueError):
        fig6.attribution_overlay_figure(imgs, [np.zeros((8, 8))] * 2, ["a", "b"])
