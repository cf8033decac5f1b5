"""Figure builders of the Why page: plain functions over core.why's numbers."""

from __future__ import annotations

import numpy as np
import pytest

from core.transforms import Transform, TransformSet, apply_numpy
from core.why import CHANCE_AUROC, ConfusedPair
from explorer.figures.style import NORMAL_COLOR, OTHER_COLOR
from explorer.figures.why import class_auroc_bars, class_transform_heatmap, pair_tiles, transform_auroc_bars

PAPER = TransformSet.paper(32)


def test_transforms_are_ranked_best_first_and_those_at_chance_are_grey() -> None:
    auroc = np.array([0.55, 0.9, 0.3, 0.7])
    fig = transform_auroc_bars(auroc, ["a", "b", "c", "d"])
    bar = fig.data[0]
    assert list(bar.y) == [0.9, 0.7, 0.55, 0.3] and list(fig.layout.xaxis.ticktext) == ["b", "d", "a", "c"]
    assert list(bar.marker.color) == [NORMAL_COLOR, NORMAL_COLOR, OTHER_COLOR, OTHER_COLOR]
    assert CHANCE_AUROC in [shape.y0 for shape in fig.layout.shapes]
    with pytest.raises(ValueError, match="4 transforms but 3 names"):
        transform_auroc_bars(auroc, ["a", "b", "c"])


def test_heatmap_has_a_row_per_class_and_a_column_per_transform() -> None:
    m = np.random.default_rng(0).uniform(size=(9, 72))
    fig = class_transform_heatmap(m, [f"class {c}" for c in range(9)], PAPER)
    assert fig.data[0].z.shape == (9, 72) and fig.data[0].zmid == 0.5
    assert list(fig.layout.yaxis.ticktext) == [f"class {c}" for c in range(9)]
    assert len(fig.layout.xaxis.ticktext) == 8  # the transforms' blocks, as on the Transforms page
    with pytest.raises(ValueError, match=r"expected \(8, k\)"):
        class_transform_heatmap(m, [str(c) for c in range(8)], PAPER)


def test_both_scores_side_by_side_per_class() -> None:
    fig = class_auroc_bars({"dirichlet": {0: 0.9, 2: 0.6}, "simple": {0: 0.8, 2: 0.7}}, {0: "zero", 2: "two"})
    assert [t.name for t in fig.data] == ["Dirichlet", "simplified"]
    assert list(fig.data[0].x) == ["zero", "two"] and list(fig.data[1].y) == [0.8, 0.7]


def test_pair_tiles_show_one_image_under_both_transforms_of_each_pair() -> None:
    image = np.random.default_rng(0).integers(0, 255, (32, 32, 1), dtype=np.uint8)
    pairs = [ConfusedPair(0, 36, 0.4, 0.3, Transform(True, 0, 0, 0)), ConfusedPair(1, 3, 0.2, 0.1,
                                                                                  Transform(False, 0, 0, 2))]
    fig = pair_tiles(image, pairs, PAPER)
    captions = [a.text for a in fig.layout.annotations]
    assert len(captions) == 4 and captions[0] == "id" and "(flip)" in captions[1]
    canvas = decoded(fig.data[0].source)
    pad = 2  # gallery.image_grid's gap at 32 px
    assert np.array_equal(canvas[:32, 32 + pad:64 + pad, 0], apply_numpy(image, PAPER[36])[..., 0])  # flip of #0


def decoded(source: str) -> np.ndarray:
    """The pixels of a plotly image trace's data: URI."""
    import base64
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))))
