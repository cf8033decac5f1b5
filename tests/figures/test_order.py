"""One order of the transforms for every picture (explorer/figures/order.py): the builders of the Home
grid, the Transforms page's matrices and bars, the per-image grid and the Why page's heatmap all draw
the transforms in the same sequence."""

from __future__ import annotations

import numpy as np
import pytest

from core.transforms import Transform, TransformSet
from explorer.figures.order import NAMED_UP_TO, block_label, shift_label, transform_order
from explorer.figures.transforms import (
    contribution_bars,
    per_transform_accuracy_bars,
    softmax_heatmap,
    transform_grid,
)
from explorer.figures.why import class_transform_heatmap

PAPER = TransformSet.paper(32)


def test_the_paper_72_fall_into_8_blocks_of_9_shifts() -> None:
    layout = transform_order(PAPER)
    assert sorted(layout.order) == list(range(72)) and layout.grouped
    assert [b.label for b in layout.blocks] == [block_label(f, r) for f in (False, True) for r in range(4)]
    assert all(b.stop - b.start == 9 for b in layout.blocks)
    assert [shift_label(s) for s in layout.shifts][:3] == ["no shift", "up8 left8", "up8"]
    assert layout.names[0] == "id" and layout.names[9] == "rot90" and layout.names[36] == "flip"
    assert [layout.cell(p) for p in (0, 1, 9, 71)] == [(0, 0), (0, 1), (1, 0), (7, 8)]


def test_small_sets_name_every_transform() -> None:
    for ts in (TransformSet.flip(), TransformSet.rotations(), TransformSet.translate(7)):
        layout = transform_order(ts)
        assert len(ts) <= NAMED_UP_TO and not layout.grouped
        assert layout.names[0] == "id"  # the unshifted, unturned first, as in every block


def builder_orders(ts: TransformSet) -> dict[str, list[str]]:
    """The transform names in the order each builder draws them, read back from the figures."""
    k = len(ts)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (k, 32, 32, 1), dtype=np.uint8)
    heat = softmax_heatmap(rng.dirichlet(np.ones(k), size=k), ts)

    def grid(fig) -> list[str]:
        return [h.split("<br>")[0].split(" ", 1)[1] for h in fig.data[1].hovertext]

    return {
        "matrix rows": [row[0][0] for row in heat.data[0].customdata],
        "matrix columns": [cell[1] for cell in heat.data[0].customdata[0]],
        "home grid": grid(transform_grid(images, ts)),
        "per-image grid": grid(transform_grid(images, ts, rng.uniform(size=k))),
        "accuracy bars": list(per_transform_accuracy_bars(np.ones(k), np.ones(k), ts).data[0].customdata),
        "score terms": list(contribution_bars(np.ones(k), ts).data[0].customdata),
        "why heatmap": [c[1] for c in class_transform_heatmap(np.ones((2, k)), ["a", "b"], ts).data[0].customdata[0]],
    }


@pytest.mark.parametrize("ts", [PAPER, TransformSet.flip_rotations(),
                                TransformSet(tuple(PAPER[i] for i in (5, 40, 0, 13, 71, 2, 36)))],
                         ids=["paper72", "flip_rot8", "a shuffled subset"])
def test_every_picture_draws_the_transforms_in_one_order(ts: TransformSet) -> None:
    orders = builder_orders(ts)
    expected = transform_order(ts).names
    assert sorted(expected) == sorted(ts.names)
    for picture, names in orders.items():
        assert names == expected, picture


def test_a_set_in_another_order_is_drawn_the_same() -> None:
    """The display order depends on the transforms, not on the order a config lists them in."""
    shuffled = TransformSet(tuple(PAPER[i] for i in np.random.default_rng(1).permutation(72)))
    assert transform_order(shuffled).names == transform_order(PAPER).names


def test_labels_read_like_the_transform_names() -> None:
    assert block_label(True, 3) == "flip 270°" and block_label(False, 0) == "0°"
    assert shift_label((-8, 8)) == "down8 left8" == Transform(False, -8, 8, 0).name
