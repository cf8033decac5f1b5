"""Wide ResNet (Zagoruyko & Komodakis, 2016) as the GEOM authors built it.

Pre-activation blocks (BN-ReLU-conv), a 1x1 projection shortcut fed by the BN-ReLU output when the
shape changes, no dropout, He-normal convs and a uniform(+-1/sqrt(fan_in)) linear head after an
8x8 average pool. On 32x32 inputs that pool is global; on 64x64 it leaves a 2x2 map, so the head
sees four times the channels (as in the authors' Keras model).
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn


class PreActBlock(nn.Module):
    """BN-ReLU-conv3x3-BN-ReLU-conv3x3 with an identity or 1x1 projection shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels, momentum=0.1, eps=1e-5)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels, momentum=0.1, eps=1e-5)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        same_shape = in_channels == out_channels and stride == 1
        self.shortcut = None if same_shape else nn.Conv2d(in_channels, out_channels, 1, stride, 0, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o = F.relu(self.bn1(x))
        y = self.conv2(F.relu(self.bn2(self.conv1(o))))
        return y + (x if self.shortcut is None else self.shortcut(o))


class WideResNet(nn.Module):
    """WRN-depth-width classifier over ``num_classes`` transforms.

    depth = 6n + 4 (n blocks per group); the paper uses WRN-10-4 at 32x32 and WRN-16-8 at 64x64.
    """

    def __init__(self, depth: int, width: int, num_classes: int, in_channels: int = 3, image_size: int = 32) -> None:
        super().__init__()
        if (depth - 4) % 6 or depth < 10:
            raise ValueError(f"WRN depth must be 6n+4 with n >= 1 (10, 16, 22, ...), got {depth}")
        if image_size % 32:
            raise ValueError(f"WRN expects 32x32 or 64x64 images (a multiple of 32), got {image_size}")
        n = (depth - 4) // 6
        widths = [16, 16 * width, 32 * width, 64 * width]
        self.depth, self.width, self.num_classes = depth, width, num_classes
        self.in_channels, self.image_size = in_channels, image_size
        self.conv = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        blocks: list[nn.Module] = []
        for group, stride in enumerate((1, 2, 2)):
            for b in range(n):
                in_width = widths[group] if b == 0 else widths[group + 1]
                blocks.append(PreActBlock(in_width, widths[group + 1], stride if b == 0 else 1))
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(widths[3], momentum=0.1, eps=1e-5)
        pooled_side = image_size // 4 // 8  # after two stride-2 groups, then an 8x8 pool
        self.fc = nn.Linear(widths[3] * pooled_side * pooled_side, num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The authors' initialisation: He-normal (fan_in) convs, uniform linear head, zero biases."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.in_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled, flattened features the linear head reads: (N, C, H, W) -> (N, fc.in_features).

        A second head on the same features (core.ood's class head) reads them from here."""
        h = F.relu(self.bn(self.blocks(self.conv(x))))
        return torch.flatten(F.avg_pool2d(h, 8), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits over the transforms for an (N, C, H, W) batch scaled to [-1, 1]."""
        return self.fc(self.features(x))


def _fold_bn_into_conv(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """The conv followed by eval-mode BN as one conv with a bias: BN(W*x) = (s.W)*x + (b - s.mean)."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=True)
    folded = folded.to(device=conv.weight.device)
    with torch.no_grad():
        folded.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
        folded.bias.copy_(bn.bias - bn.running_mean * scale)
    return folded


class FoldedBlock(nn.Module):
    """An eval-only PreActBlock whose second BN lives inside conv1 (bn1 follows a sum: not foldable)."""

    def __init__(self, block: PreActBlock) -> None:
        super().__init__()
        self.bn1 = block.bn1
        self.conv1 = _fold_bn_into_conv(block.conv1, block.bn2)
        self.conv2 = block.conv2
        self.shortcut = block.shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o = F.relu(self.bn1(x), inplace=True)
        y = self.conv2(F.relu(self.conv1(o), inplace=True))
        return y + (x if self.shortcut is None else self.shortcut(o))


def inference_copy(model: WideResNet) -> WideResNet:
    """An eval-only copy that scores the same logits faster.

    On a CPU, eval-mode BN and ReLU are memory-bound passes costing about a third of inference;
    folding the BN that directly follows each block's first conv removes three of seven of them
    (``python -m bench.overhead`` prints the gain). The copy shares nothing with ``model``, so
    training ``model`` further leaves it stale: build a new one.
    """
    folded = copy.deepcopy(model).eval()
    folded.blocks = nn.Sequential(*(FoldedBlock(block) for block in folded.blocks))
    return folded.eval()
