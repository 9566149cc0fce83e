"""conv_output_shape: the formula, torch's actual shapes, the lecture's numbers, bad settings."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from coursekit.conv import conv_output_shape

TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


@pytest.mark.parametrize("n,f,s,p,d", [
    (n, f, s, p, d) for n, f, s, p, d in itertools.product(
        (5, 8, 14), (1, 3, 5), (1, 2, 3), (0, 1, 2), (1, 2))
    if d * (f - 1) + 1 <= n + 2 * p
])
def test_matches_torch_1d(n, f, s, p, d):
    y = F.conv1d(torch.zeros(1, 1, n), torch.zeros(1, 1, f), stride=s, padding=p, dilation=d)
    assert conv_output_shape(n, f, s, p, d) == y.shape[-1]


@pytest.mark.parametrize("n_dims", [1, 2, 3])
def test_matches_torch_nd_tuples(n_dims):
    g = torch.Generator().manual_seed(n_dims)
    for _ in range(10):
        size = tuple(int(v) for v in torch.randint(6, 12, (n_dims,), generator=g))
        kernel = tuple(int(v) for v in torch.randint(1, 4, (n_dims,), generator=g))
        stride = tuple(int(v) for v in torch.randint(1, 3, (n_dims,), generator=g))
        pad = tuple(int(v) for v in torch.randint(0, 2, (n_dims,), generator=g))
        dil = tuple(int(v) for v in torch.randint(1, 3, (n_dims,), generator=g))
        y = TORCH_CONV[n_dims](torch.zeros(1, 1, *size), torch.zeros(1, 1, *kernel),
                               stride=stride, padding=pad, dilation=dil)
        assert conv_output_shape(size, kernel, stride, pad, dil) == tuple(y.shape[2:])


def test_lecture_numbers():
    assert conv_output_shape((14, 14), 5) == (10, 10)      # 14x14x3 * 16 5x5 filters -> 10x10x16
    assert conv_output_shape(14, 5) == 10                   # ECG 14 -> 10 x 16
    assert conv_output_shape(10, 5) == 6                    # then -> 6 x 32
    assert conv_output_shape((14, 14, 14), 5) == (10, 10, 10)
    assert conv_output_shape((10, 10, 10), (5, 5, 5)) == (6, 6, 6)


def test_int_in_int_out_tuple_in_tuple_out():
    assert isinstance(conv_output_shape(7, 3), int)
    assert conv_output_shape((7,), 3) == (5,)
    assert conv_output_shape(7, (3, 3)) == (5, 5)


@pytest.mark.parametrize("kwargs,match", [
    (dict(input_size=4, kernel_size=5), "kernel larger than the padded input"),
    (dict(input_size=5, kernel_size=3, dilation=3), "dilated kernel size 7"),
    (dict(input_size=5, kernel_size=3, stride=0), "stride must be >= 1"),
    (dict(input_size=5, kernel_size=3, padding=-1), "padding must be >= 0"),
    (dict(input_size=0, kernel_size=1), "input_size must be >= 1"),
    (dict(input_size=5, kernel_size=0), "kernel_size must be >= 1"),
    (dict(input_size=(5, 5), kernel_size=(3, 3, 3)), "disagree"),
    (dict(input_size=5.0, kernel_size=3), "input_size must be an int"),
])
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        conv_output_shape(**kwargs)
