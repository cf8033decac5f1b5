"""A small position-sensitive CNN: the alternative transform classifier for the Section 6 ablations.

The WRN ends in a global average pool, so it is nearly translation invariant and must read a shift
from border effects, which works on any digit alike. This network ends in a dense layer over the
flattened 8x8 (or 16x16) feature map, so what it learns is tied to where the normal class's
strokes are. It is the kind of "small CNN" the authors used for Figure 1; with it the two flip
ablations land near the paper's AUROCs (bench/ablation_seeds.py --network small_cnn).
"""

from __future__ import annotations

from torch import nn


class SmallCNN(nn.Sequential):
    """conv3x3(32)-ReLU-maxpool, conv3x3(64)-ReLU-maxpool, dense 128-ReLU, dense k."""

    def __init__(self, num_classes: int, in_channels: int = 1, image_size: int = 32) -> None:
        if image_size % 4:
            raise ValueError(f"the small CNN needs a side divisible by 4, got {image_size}")
        side = image_size // 4
        super().__init__(
            nn.Conv2d(in_channels, 32, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * side * side, 128), nn.ReLU(inplace=True), nn.Linear(128, num_classes),
        )
        self.num_classes, self.in_channels, self.image_size = num_classes, in_channels, image_size
