"""convnd_naive (the teaching loop) against torch and convnd on tiny inputs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from coursekit.conv import convnd, convnd_naive

TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


@pytest.mark.parametrize("n_dims,stride,padding", [(1, 1, 0), (1, 2, 1), (2, 1, 1), (2, 2, 0), (3, 1, 0),
                                                   (3, 2, 1)])
def test_matches_torch_tiny(n_dims, stride, padding, device):
    g = torch.Generator().manual_seed(n_dims * 10 + stride)
    x = torch.randn(2, 2, *([5] * n_dims), generator=g, dtype=torch.float64).to(device)
    w = torch.randn(3, 2, *([3] * n_dims), generator=g, dtype=torch.float64).to(device)
    b = torch.randn(3, generator=g, dtype=torch.float64).to(device)
    expected = TORCH_CONV[n_dims](x, w, b, stride=stride, padding=padding)
    torch.testing.assert_close(convnd_naive(x, w, b, stride=stride, padding=padding), expected)
    torch.testing.assert_close(convnd(x, w, b, stride=stride, padding=padding), expected)


def test_lecture_ecg_shapes():
    h = convnd_naive(torch.randn(1, 1, 14), torch.randn(16, 1, 5))
    assert h.shape == (1, 16, 10)
    assert convnd_naive(h, torch.randn(32, 16, 5)).shape == (1, 32, 6)


def test_no_kernel_flip():
    x = torch.tensor([[[0.0, 1.0, 0.0, 0.0]]])
    w = torch.tensor([[[1.0, 2.0, 3.0]]])
    # cross-correlation: y[i] = sum_k w[k] x[i + k]
    torch.testing.assert_close(convnd_naive(x, w), torch.tensor([[[2.0, 1.0]]]))


def test_bad_inputs():
    with pytest.raises(ValueError, match="channel mismatch"):
        convnd_naive(torch.zeros(1, 2, 5), torch.zeros(1, 3, 3))
    with pytest.raises(ValueError, match="kernel larger"):
        convnd_naive(torch.zeros(1, 1, 2), torch.zeros(1, 1, 3))
