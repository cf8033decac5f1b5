"""The WRN has the paper's shapes, head and initialisation."""

import math

import pytest
import torch

from core.wrn import WideResNet


@pytest.mark.parametrize("size,channels,depth,width", [(32, 1, 10, 4), (32, 3, 10, 1), (64, 3, 16, 8)])
def test_output_shape_and_head(size, channels, depth, width):
    m = WideResNet(depth, width, 72, channels, size).eval()
    assert m(torch.zeros(2, channels, size, size)).shape == (2, 72)
    # 8x8 pool: global at 32x32, a 2x2 map at 64x64 (4x the channels into the head)
    assert m.fc.in_features == 64 * width * (1 if size == 32 else 4)


def test_initialisation_and_structure():
    torch.manual_seed(0)
    m = WideResNet(10, 4, 72, 3, 32)
    conv = m.blocks[1].conv1  # 64 -> 128 channels, 3x3
    fan_in = conv.in_channels * 9
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.05)
    bound = 1 / math.sqrt(m.fc.in_features)
    assert m.fc.weight.abs().max().item() <= bound and float(m.fc.bias.detach().abs().sum()) == 0
    assert m.blocks[0].shortcut is not None  # 16 -> 64 channels needs a projection
    assert WideResNet(10, 1, 4, 1).blocks[0].shortcut is None  # 16 -> 16 at stride 1: identity
    assert all(bn.momentum == 0.1 and bn.eps == 1e-5 for bn in m.modules() if isinstance(bn, torch.nn.BatchNorm2d))
    assert not any(isinstance(mod, torch.nn.Dropout) for mod in m.modules())


def test_rejects_bad_depth():
    with pytest.raises(ValueError, match="6n\\+4"):
        WideResNet(12, 1, 72)
