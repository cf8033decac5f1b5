"""The WRN has the paper's shapes, head and initialisation; its inference copy computes the same."""

import math
import platform

import pytest
import torch

from core.allocator import tune_malloc
from core.wrn import WideResNet, inference_copy


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


@pytest.mark.parametrize("width", [1, 2])
def test_inference_copy_gives_the_same_logits_and_leaves_the_model_alone(width):
    torch.manual_seed(0)
    model = WideResNet(10, width, 8, 3, 32)
    model.train()
    with torch.no_grad():  # move every BN's running statistics away from the identity
        for _ in range(3):
            model(torch.randn(32, 3, 32, 32) * 2 + 0.5)
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    folded = inference_copy(model)
    x = torch.randn(16, 3, 32, 32)
    with torch.no_grad():
        want, got = model(x), folded(x)
    assert torch.allclose(got, want, atol=1e-4, rtol=1e-4)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules()) < \
        sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_malloc_tuning_applies_on_glibc_and_can_be_turned_off(monkeypatch):
    if platform.libc_ver()[0] == "glibc":
        assert tune_malloc() is True
    monkeypatch.setenv("GEOM_MALLOC_TUNING", "0")
    assert tune_malloc() is False
