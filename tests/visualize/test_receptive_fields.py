"""Receptive fields against a brute-force answer: autograd of one output unit of a
"footprint" network (one channel, all-ones kernels) shows exactly which input pixels reach it."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from coursekit.visualize.receptive_fields import LayerSpec, layer_specs, receptive_fields
from coursekit.visualize.vgg_fields import vgg19_layer_specs, vgg19_receptive_fields


def _footprint(module: nn.Module) -> nn.Module:
    """Same geometry, one channel, every tap positive: the gradient's support is the field."""
    if isinstance(module, nn.Conv2d):
        m = nn.Conv2d(1, 1, module.kernel_size, module.stride, module.padding, module.dilation,
                      bias=False)
    elif isinstance(module, nn.MaxPool2d) and module.dilation in (1, (1, 1)):
        return nn.AvgPool2d(module.kernel_size, module.stride, module.padding, module.ceil_mode)
    elif isinstance(module, nn.MaxPool2d):
        assert not module.ceil_mode
        m = nn.Conv2d(1, 1, module.kernel_size, module.stride, module.padding, module.dilation,
                      bias=False)
    elif isinstance(module, nn.AvgPool2d):
        return nn.AvgPool2d(module.kernel_size, module.stride, module.padding, module.ceil_mode)
    else:
        return nn.Identity()
    with torch.no_grad():
        m.weight.fill_(1.0)
    return m


def _support(net: nn.Sequential, upto: int, size: tuple[int, int], row: int, col: int):
    """Input rows and columns that influence unit (row, col) after layer ``upto``."""
    x = torch.ones(1, 1, *size, dtype=torch.float64, requires_grad=True)
    y = x
    for m in list(net)[: upto + 1]:
        y = _footprint(m).double()(y)
    y[0, 0, row, col].backward()
    nz = x.grad[0, 0] != 0
    rows = torch.nonzero(nz.any(1)).flatten().tolist()
    cols = torch.nonzero(nz.any(0)).flatten().tolist()
    return rows, cols, tuple(y.shape[-2:])


def _check(net: nn.Sequential, size: tuple[int, int], *, dilated: bool = False) -> None:
    fields = list(receptive_fields(net, size).values())
    x = torch.zeros(1, net[0].in_channels if isinstance(net[0], nn.Conv2d) else 1, *size)
    with torch.no_grad():
        for i, (f, m) in enumerate(zip(fields, net)):
            x = m(x)
            assert tuple(x.shape[-2:]) == f.output_size, (i, f)
    for i, f in enumerate(fields):
        h, w = f.output_size
        for row in sorted({0, h // 2, h - 1}):
            for col in sorted({0, w // 2, w - 1}):
                rows, cols, out = _support(net, i, size, row, col)
                assert out == f.output_size
                top, left, bottom, right = f.box(row, col, size)
                assert set(rows) <= set(range(top, bottom)) and set(cols) <= set(range(left, right))
                unclipped = f.box(row, col)
                inside = unclipped[0] >= 0 and unclipped[1] >= 0 and unclipped[2] <= size[0] \
                    and unclipped[3] <= size[1]
                if not dilated or inside:  # contiguous support, or extent fully visible
                    assert (rows[0], cols[0], rows[-1] + 1, cols[-1] + 1) == (top, left, bottom,
                                                                             right), (i, row, col)


def _vgg_like(pool: type = nn.MaxPool2d) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(),
        pool(2, 2), nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), pool(2, 2),
        nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(),
    )


@pytest.mark.parametrize("pool", [nn.MaxPool2d, nn.AvgPool2d])
def test_vgg_like_stack(pool):
    _check(_vgg_like(pool), (24, 20))


def test_stride2_conv_with_padding():
    net = nn.Sequential(nn.Conv2d(1, 2, 5, stride=2, padding=2), nn.ReLU(),
                        nn.Conv2d(2, 2, 3, stride=2, padding=1), nn.Conv2d(2, 2, 4, stride=3))
    _check(net, (31, 27))


def test_dilation_and_odd_pooling():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, dilation=2, padding=1),
                        nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
                        nn.Conv2d(2, 2, 3, dilation=3, padding=2),
                        nn.MaxPool2d(2, stride=1, dilation=2),
                        nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True))
    _check(net, (33, 30), dilated=True)


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel lengths:UserWarning")
def test_same_padding_and_rectangular_kernels():
    net = nn.Sequential(nn.Conv2d(1, 2, (3, 5), padding="same"), nn.Conv2d(2, 2, 4, padding="same"),
                        nn.Conv2d(2, 2, (2, 3), stride=(1, 2), padding=(0, 1)))
    _check(net, (17, 19))


def test_vgg19_brute_force_footprint():
    features = torchvision.models.vgg19(weights=None).features
    names = [s.name for s in vgg19_layer_specs()]
    size = (40, 36)
    fields = vgg19_receptive_fields(size)
    for name in ("relu1_1", "relu2_1", "pool2", "relu3_1", "relu4_1"):
        i = names.index(name)
        f = fields[name]
        for row, col in {(0, 0), (f.output_size[0] - 1, f.output_size[1] // 2)}:
            rows, cols, out = _support(features, i, size, row, col)
            assert out == f.output_size
            top, left, bottom, right = f.box(row, col, size)
            assert (rows[0], cols[0], rows[-1] + 1, cols[-1] + 1) == (top, left, bottom, right)


def test_exercise_recurrence():
    """The lecture's r <- r + (k-1) j, j <- j s for stacks given as (kernel, stride)."""
    stack = [(3, 1), (3, 1), (2, 2), (5, 3)]
    specs = [LayerSpec.conv(str(i), k, s) for i, (k, s) in enumerate(stack)]
    last = list(receptive_fields(specs, 100).values())[-1]
    r, j = 1, 1
    for k, s in stack:
        r, j = r + (k - 1) * j, j * s
    assert last.size == (r, r) and last.jump == (j, j)


def test_names_and_errors():
    seq = nn.Sequential()
    seq.add_module("block", nn.Sequential(nn.Conv2d(1, 1, 3), nn.ReLU()))
    seq.add_module("pool", nn.MaxPool2d(2))
    assert [s.name for s in layer_specs(seq)] == ["block.0", "block.1", "pool"]
    assert list(receptive_fields([("a", nn.Conv2d(1, 1, 3))], 8)) == ["a"]
    with pytest.raises(ValueError, match="Linear"):
        layer_specs([nn.Conv2d(1, 1, 3), nn.Linear(3, 3)])
    with pytest.raises(ValueError, match="smaller than"):
        receptive_fields([nn.Conv2d(1, 1, 5)], 3)
    with pytest.raises(ValueError, match="nn.Sequential"):
        layer_specs(nn.Conv2d(1, 1, 3))


@pytest.mark.parametrize("n", range(4, 12))
def test_ceil_mode_output_size_matches_pytorch(n):
    for pool in (nn.MaxPool2d(2, 2, padding=1, ceil_mode=True),
                 nn.AvgPool2d(3, 2, padding=1, ceil_mode=True),
                 nn.MaxPool2d(3, 3, padding=1, ceil_mode=True)):
        expected = tuple(pool(torch.zeros(1, 1, n, n + 1)).shape[-2:])
        assert receptive_fields([pool], (n, n + 1))["0"].output_size == expected


