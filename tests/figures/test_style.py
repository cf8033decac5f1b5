"""Lecture mode (explorer/figures/style.py lecture_style): every text of every kind of figure 14 px or
more, in dark colours, without touching the figure a page cached."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import plotly.graph_objects as go
import pytest

from core.compare import ClassAuroc
from core.transforms import TransformSet
from explorer.figures import compare, scores, section6, transforms, why
from explorer.figures.history import training_curves_figure
from explorer.figures.style import _DARK_ENOUGH, LECTURE_FONT_PX, lecture_style, luminance

RNG = np.random.default_rng(0)
PAPER = TransformSet.paper(32)
IS_NORMAL = np.arange(60) % 3 == 0
SCORE = IS_NORMAL + RNG.normal(size=60)
LABELS = np.arange(60) % 5


def figures() -> dict[str, go.Figure]:
    """One of each kind: curves, bars with text, heatmaps with and without cell text, image grids with
    captions and labels, subplot titles, annotations of lines."""
    return {
        "roc": scores.roc_figure(IS_NORMAL, SCORE, 0.9),
        "histogram": scores.score_histogram(IS_NORMAL, SCORE, 0.0, saved_threshold=0.5),
        "per class": scores.per_class_auroc_figure({1: 0.6, 2: 0.95}, [str(c) for c in range(5)], 0.8),
        "matrix": transforms.softmax_heatmap(RNG.dirichlet(np.ones(72), size=72), PAPER, "mean softmax"),
        "grid": transforms.transform_grid(RNG.integers(0, 256, (72, 32, 32, 1), dtype=np.uint8), PAPER,
                                          RNG.uniform(size=72)),
        "accuracy": transforms.per_transform_accuracy_bars(np.ones(72) / 2, np.ones(72) / 3, PAPER, "diagonal"),
        "confusion": section6.confusion_figure(np.eye(2), np.full((2, 2), 0.5), TransformSet.flip(), "8", "3"),
        "seeds": section6.seed_auroc_figure([("8v3-flip", [0.7], 0.646)]),
        "why bars": why.transform_auroc_bars(RNG.uniform(size=72), PAPER.names),
        "compare bars": compare.class_auroc_pair_bars([ClassAuroc(1, 0.7, None), ClassAuroc(2, 0.8, 0.9)],
                                                      {1: "1", 2: "2"}, ("run A", "run B"), "dirichlet"),
        "compare roc": compare.roc_pair({(0, "dirichlet"): (IS_NORMAL, SCORE), (1, "simple"): (IS_NORMAL, -SCORE)},
                                        ("run A", "run B")),
        "history": training_curves_figure([{"step": s, "loss": 1 / (s + 1), "accuracy": s / 10} for s in range(10)]),
    }


def fonts(node: object, key: str = "") -> Iterator[tuple[str, dict]]:
    """Every font setting of a figure's dict (layout and traces), with the key it sits under; the
    template's defaults are left out (explicit settings override them)."""
    if isinstance(node, dict):
        if key.endswith("font"):
            yield key, node
        for child_key, child in node.items():
            if child_key != "template":
                yield from fonts(child, child_key)
    elif isinstance(node, list):
        for item in node:
            yield from fonts(item, key)


@pytest.mark.parametrize("name", list(figures()))
def test_lecture_text_is_14px_or_more_and_dark(name: str) -> None:
    fig = figures()[name]
    before = fig.to_json()
    spec = lecture_style(fig).to_dict()
    assert fig.to_json() == before, "the figure passed in must not change"
    assert spec["layout"]["font"]["size"] >= LECTURE_FONT_PX  # what every unset size inherits
    assert luminance(spec["layout"]["font"]["color"]) < 0.05
    found = list(fonts(spec))
    assert found
    for key, font in found:
        assert font.get("size", LECTURE_FONT_PX) >= LECTURE_FONT_PX, (key, font)
        if isinstance(font.get("color"), str) and luminance(font["color"]) is not None:
            assert luminance(font["color"]) <= _DARK_ENOUGH, (key, font)


def test_small_text_becomes_bigger_and_pale_text_darker() -> None:
    fig = go.Figure(go.Bar(x=[1], y=[1], text=["a"], textfont=dict(size=8, color="#cccccc")))
    fig.add_annotation(text="note", font=dict(size=9, color="rgb(200, 200, 200)"))
    fig.add_annotation(text="meaningful", font=dict(size=10, color="#c0392b"))  # a dark red stays red
    out = lecture_style(fig)
    assert out.data[0].textfont.size == LECTURE_FONT_PX and out.data[0].textfont.color == "#111111"
    assert out.layout.annotations[0].font.size == LECTURE_FONT_PX and out.layout.annotations[0].font.color == "#111111"
    assert out.layout.annotations[1].font.color == "#c0392b"
    assert out.layout.title.font.size >= 20
