"""One order for the transforms in every picture: blocks of one flip and rotation, the shifts inside.

The paper numbers its 72 transforms 36*flip + 12*i + 4*j + k (core.transforms.TransformSet.paper), so
neighbouring rows of a matrix in that order differ by a rotation and 72 rows need 72 labels, too
small to read. Sorted by (flip, rotation, shift) instead they fall into 8 blocks of 9: each block one
flip and rotation, named by one label, its 9 rows the shifts (the unshifted one first, then the
shifts in reading order: up-left, up, up-right, left, right, down-left, down, down-right). The Home
grid, the per-image grid, the softmax matrices and the per-transform bars all take their order from
here, so a transform sits at the same place in every picture. Any transform set works: a block holds
the shifts the set has, and a set of a few transforms keeps one tick label per transform.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import plotly.graph_objects as go

from core.transforms import Transform, TransformSet

NAMED_UP_TO = 12
"""Sets of up to this many transforms label every transform; larger ones label their blocks."""

Transforms = TransformSet | Sequence[Transform]


def as_transforms(transforms: Transforms) -> tuple[Transform, ...]:
    """The transforms of a TransformSet or a plain sequence, in the set's own order."""
    return transforms.transforms if isinstance(transforms, TransformSet) else tuple(transforms)


def block_label(flip: bool, rot: int) -> str:
    """``90°``, ``flip 180°``: what the transforms of one block share."""
    return f"{'flip ' if flip else ''}{90 * (rot % 4)}°"


def shift_label(shift: tuple[int, int]) -> str:
    """``up8 left8``, ``no shift``: a shift in the words of the transforms' names."""
    name = Transform(False, shift[0], shift[1], 0).name
    return "no shift" if name == "id" else name


def _shift_key(shift: tuple[int, int]) -> tuple[bool, int, int]:
    """The unshifted first, then up before down and left before right (positive = up / left)."""
    return shift != (0, 0), -shift[0], -shift[1]


@dataclass(frozen=True)
class Block:
    """Consecutive display positions [start, stop) holding the transforms of one flip and rotation."""

    label: str
    start: int
    stop: int

    @property
    def centre(self) -> float:
        return (self.start + self.stop - 1) / 2


@dataclass(frozen=True)
class TransformOrder:
    """Where every transform of a set is drawn: its display position, its block and its shift column."""

    transforms: tuple[Transform, ...]  # in the set's own order
    order: tuple[int, ...]  # display position -> index in the set
    blocks: tuple[Block, ...]
    shifts: tuple[tuple[int, int], ...]  # the set's distinct (shift_rows, shift_cols), one grid column each

    @property
    def names(self) -> list[str]:
        """Transform names in display order."""
        return [self.transforms[t].name for t in self.order]

    @property
    def grouped(self) -> bool:
        """Whether axes name blocks rather than every transform: too many names to read, and blocks
        that hold more than one transform."""
        return len(self.order) > NAMED_UP_TO and len(self.blocks) < len(self.order)

    def cell(self, position: int) -> tuple[int, int]:
        """(row, column) of display position ``position`` in a grid: its block, its shift."""
        t = self.transforms[self.order[position]]
        row = next(r for r, b in enumerate(self.blocks) if b.start <= position < b.stop)
        return row, self.shifts.index((t.shift_rows, t.shift_cols))


def transform_order(transforms: Transforms) -> TransformOrder:
    """The display order of a transform set (see the module docstring)."""
    ts = as_transforms(transforms)

    def key(i: int) -> tuple:
        t = ts[i]
        return t.flip, t.rot % 4, _shift_key((t.shift_rows, t.shift_cols))

    order = tuple(sorted(range(len(ts)), key=key))
    blocks: list[Block] = []
    for position, i in enumerate(order):
        label = block_label(ts[i].flip, ts[i].rot)
        if blocks and blocks[-1].label == label:
            blocks[-1] = Block(label, blocks[-1].start, position + 1)
        else:
            blocks.append(Block(label, position, position + 1))
    shifts = tuple(sorted({(t.shift_rows, t.shift_cols) for t in ts}, key=_shift_key))
    return TransformOrder(ts, order, tuple(blocks), shifts)


def check_count(n: int, layout: TransformOrder, what: str) -> None:
    """ValueError unless ``what`` holds one value per transform of the set."""
    if n != len(layout.order):
        raise ValueError(f"{what} has {n} transforms but the set has {len(layout.order)}")


def name_axis(names: Sequence[str], font_size: int | None = None) -> dict:
    """Axis settings over positions 0..k-1 labelled with every name (small enough to fit by default).

    Positions rather than categories: plotly merges equal category strings.
    """
    k = len(names)
    size = font_size or (14 if k <= NAMED_UP_TO else 9 if k <= 36 else 7)
    return dict(tickmode="array", tickvals=list(range(k)), ticktext=list(names), tickfont=dict(size=size),
                showgrid=False, zeroline=False)


def transform_axis(layout: TransformOrder) -> dict:
    """Axis settings over display positions 0..k-1: a label per block when grouped, else per transform."""
    if not layout.grouped:
        return name_axis(layout.names)
    return dict(tickmode="array", tickvals=[b.centre for b in layout.blocks], ticktext=[b.label for b in layout.blocks],
                tickfont=dict(size=14), showgrid=False, zeroline=False)


def add_block_lines(fig: go.Figure, layout: TransformOrder, axes: str = "x", color: str = "white") -> go.Figure:
    """Thin lines between blocks along the transform axes ``axes`` ("x", "y" or "xy") of a grouped order:
    white over a heatmap, a light grey between bars."""
    if not layout.grouped:
        return fig
    line = dict(color=color, width=1.5)
    for b in layout.blocks[1:]:
        edge = b.start - 0.5
        if "x" in axes:
            fig.add_shape(type="line", x0=edge, x1=edge, y0=0, y1=1, xref="x", yref="paper", line=line,
                          layer="above")
        if "y" in axes:
            fig.add_shape(type="line", y0=edge, y1=edge, x0=0, x1=1, yref="y", xref="paper", line=line,
                          layer="above")
    return fig
