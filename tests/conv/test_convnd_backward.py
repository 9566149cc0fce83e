"""convnd's explicit backward (coursekit.conv._taps) against torch, on both code paths.

``convnd`` loops over kernel taps, or copies the windows into im2col columns when there are
fewer than four input channels per group; the ``path`` fixture forces each path in turn.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import coursekit.conv._taps as _taps
from coursekit.conv import convnd

TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


@pytest.fixture(params=["taps", "im2col"])
def path(request, monkeypatch):
    """Force the tap loop (no columns allowed) or im2col columns (any channel count)."""
    if request.param == "taps":
        monkeypatch.setattr(_taps, "_IM2COL_MAX_BYTES", -1)
    else:
        monkeypatch.setattr(_taps, "_IM2COL_MAX_CHANNELS", 10**6)
    return request.param


def random_setting(seed: int, n_dims: int) -> dict:
    """Random valid arguments, often with stride > 1 and input left over past the last window."""
    g = torch.Generator().manual_seed(seed)

    def pick(*options):
        return options[int(torch.randint(len(options), (1,), generator=g))]

    groups = pick(1, 2, 3)
    kernel = [pick(1, 2, 3) for _ in range(n_dims)]
    stride = [pick(1, 2, 3) for _ in range(n_dims)]
    dilation = [pick(1, 2) for _ in range(n_dims)]
    padding = [pick(0, 1, 2) for _ in range(n_dims)]
    size = [max(1, d * (k - 1) + 1 - 2 * p) + pick(0, 1, 2, 4) for k, d, p in zip(kernel, dilation, padding)]
    return dict(x_shape=(pick(1, 2, 3), groups * pick(1, 2, 5), *size),
                w_shape=(groups * pick(1, 2, 3), None, *kernel),
                kwargs=dict(stride=tuple(stride), padding=tuple(padding), dilation=tuple(dilation),
                            groups=groups))


def make_tensors(setting: dict, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """float64 x, weight, bias for a :func:`random_setting`."""
    g = torch.Generator().manual_seed(seed)
    c_out, _, *kernel = setting["w_shape"]
    c_per_group = setting["x_shape"][1] // setting["kwargs"]["groups"]
    return (torch.randn(setting["x_shape"], generator=g, dtype=torch.float64),
            torch.randn(c_out, c_per_group, *kernel, generator=g, dtype=torch.float64),
            torch.randn(c_out, generator=g, dtype=torch.float64))


def grads(fn, tensors, kwargs, grad_out=None):
    """Output and gradients of ``fn(x, w, b, **kwargs)`` for a random output gradient."""
    leaves = [t.clone().requires_grad_() for t in tensors]
    out = fn(*leaves, **kwargs)
    if grad_out is None:
        grad_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=out.dtype)
    return out, torch.autograd.grad(out, leaves, grad_out)


@pytest.mark.parametrize("n_dims", [1, 2, 3])
@pytest.mark.parametrize("seed", range(12))
def test_gradients_equal_torch_random_settings(n_dims, seed, path):
    setting = random_setting(1000 * n_dims + seed, n_dims)
    tensors = make_tensors(setting, seed)
    out, mine = grads(convnd, tensors, setting["kwargs"])
    ref_out, ref = grads(TORCH_CONV[n_dims], tensors, setting["kwargs"])
    torch.testing.assert_close(out, ref_out)
    for name, a, b in zip(("x", "weight", "bias"), mine, ref):
        torch.testing.assert_close(a, b, msg=lambda m, name=name: f"grad {name} {setting}: {m}")


@pytest.mark.parametrize("n_dims", [1, 2, 3])
def test_leftover_input_gets_zero_gradient(n_dims, path):
    # size 10, kernel 3, stride 4: windows start at 0 and 4, so positions 7..9 are never read
    x = torch.randn(2, 4, *([10] * n_dims), dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 4, *([3] * n_dims), dtype=torch.float64)
    convnd(x, w, stride=4).sum().backward()
    ref = x.detach().clone().requires_grad_()
    TORCH_CONV[n_dims](ref, w, stride=4).sum().backward()
    torch.testing.assert_close(x.grad, ref.grad)
    assert x.grad[(..., *([slice(7, None)] + [slice(None)] * (n_dims - 1)))].abs().max() == 0


@pytest.mark.parametrize("n_dims", [1, 2, 3])
def test_benchmark_like_channels_and_strides(n_dims):
    # the default path choice on wider layers: 16 channels (taps) and 1 channel (im2col)
    for c_in, kwargs in ((16, {"padding": 2, "dilation": 2}), (1, {"stride": 2, "padding": 1})):
        tensors = make_tensors({"x_shape": (3, c_in, *([9] * n_dims)), "w_shape": (8, None, *([3] * n_dims)),
                                "kwargs": {"groups": 1}}, n_dims)
        _, mine = grads(convnd, tensors, kwargs)
        _, ref = grads(TORCH_CONV[n_dims], tensors, kwargs)
        for a, b in zip(mine, ref):
            torch.testing.assert_close(a, b)


@pytest.mark.parametrize("n_dims", [1, 2, 3])
def test_gradcheck_and_gradgradcheck_float64(n_dims, path):
    size = {1: 6, 2: 5, 3: 3}[n_dims]  # small: gradgradcheck perturbs every input and output
    setting = {"x_shape": (1, 4, *([size] * n_dims)), "w_shape": (4, None, *([2] * n_dims)),
               "kwargs": {"groups": 2}}
    x, w, b = (t.requires_grad_() for t in make_tensors(setting, n_dims))
    for kwargs in ({"stride": 2, "padding": 1, "groups": 2}, {"dilation": 2, "padding": 1, "groups": 2}):
        def fn(x, w, b, kwargs=kwargs):
            return convnd(x, w, b, **kwargs)
        assert torch.autograd.gradcheck(fn, (x, w, b), fast_mode=n_dims == 3)
        assert torch.autograd.gradgradcheck(fn, (x, w, b), fast_mode=True)  # full mode: minutes


def test_double_backward_gradient_penalty_equals_torch():
    # d/dw of ||d(sum y²)/dx||², the shape of a WGAN-GP penalty, needs the double backward
    g = torch.Generator().manual_seed(5)
    x = torch.randn(2, 6, 8, 8, generator=g, dtype=torch.float64, requires_grad=True)
    w0 = torch.randn(4, 3, 3, 3, generator=g, dtype=torch.float64)
    results = []
    for fn in (convnd, F.conv2d):
        w = w0.clone().requires_grad_()
        (gx,) = torch.autograd.grad(fn(x, w, stride=2, padding=1, groups=2).square().sum(), x,
                                    create_graph=True)
        results.append(torch.autograd.grad(gx.square().sum(), w)[0])
    torch.testing.assert_close(*results)
