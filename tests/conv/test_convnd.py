"""convnd against torch's conv1d/2d/3d: values, gradients, gradcheck, strides, bad inputs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from coursekit.conv import ConvNd, conv_output_shape, convnd, convnd_naive

TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def random_case(g: torch.Generator, n_dims: int):
    """A random valid convolution setting with ``n_dims`` spatial dimensions."""
    def ri(lo, hi):
        return int(torch.randint(lo, hi + 1, (1,), generator=g))

    groups = [1, 1, 2, 3][ri(0, 3)]
    c_in, c_out = groups * [1, 2, 3, 6][ri(0, 3)], groups * ri(1, 3)  # 4+ channels: the CPU rows path
    kernel = tuple(ri(1, 3) for _ in range(n_dims))
    stride = tuple(ri(1, 3) for _ in range(n_dims))
    padding = tuple(ri(0, 2) for _ in range(n_dims))
    dilation = tuple(ri(1, 2) for _ in range(n_dims))
    size = tuple(ri(max(1, d * (k - 1) + 1 - 2 * p), 9 if n_dims < 3 else 6)
                 for k, p, d in zip(kernel, padding, dilation))
    batch = [1, 2, 3][ri(0, 2)]
    return dict(x_shape=(batch, c_in, *size), w_shape=(c_out, c_in // groups, *kernel),
                stride=stride, padding=padding, dilation=dilation, groups=groups)


@pytest.mark.parametrize("n_dims", [1, 2, 3])
@pytest.mark.parametrize("seed", range(8))
def test_matches_torch_random_shapes(n_dims, seed, device, dtype, tol):
    g = torch.Generator().manual_seed(100 * n_dims + seed)
    case = random_case(g, n_dims)
    x = torch.randn(case["x_shape"], generator=g, dtype=dtype).to(device)
    w = torch.randn(case["w_shape"], generator=g, dtype=dtype).to(device)
    b = torch.randn(case["w_shape"][0], generator=g, dtype=dtype).to(device) if seed % 2 else None
    kw = {k: case[k] for k in ("stride", "padding", "dilation", "groups")}
    y = convnd(x, w, b, **kw)
    expected = TORCH_CONV[n_dims](x, w, b, **kw)
    torch.testing.assert_close(y, expected, **tol)
    assert y.shape[2:] == conv_output_shape(tuple(x.shape[2:]), tuple(w.shape[2:]), case["stride"],
                                            case["padding"], case["dilation"])


@pytest.mark.parametrize("n_dims", [1, 2, 3])
def test_gradients_equal_torch(n_dims, device):
    g = torch.Generator().manual_seed(7 + n_dims)
    case = random_case(g, n_dims)
    kw = {k: case[k] for k in ("stride", "padding", "dilation", "groups")}
    tensors = [torch.randn(s, generator=g, dtype=torch.float64).to(device)
               for s in (case["x_shape"], case["w_shape"], (case["w_shape"][0],))]
    grads = []
    for fn in (convnd, TORCH_CONV[n_dims]):
        leaves = [t.clone().requires_grad_() for t in tensors]
        out = fn(*leaves, **kw)
        out.backward(torch.ones_like(out) + torch.arange(out.numel(), dtype=out.dtype,
                                                          device=device).view_as(out) / out.numel())
        grads.append([leaf.grad for leaf in leaves])
    for mine, ref in zip(*grads):
        torch.testing.assert_close(mine, ref)


@pytest.mark.parametrize("n_dims", [1, 2, 3])
def test_gradcheck_float64(n_dims):
    g = torch.Generator().manual_seed(n_dims)
    x = torch.randn(2, 2, *([4] * n_dims), generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 1, *([2] * n_dims), generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: convnd(x, w, b, stride=2, padding=1, dilation=1, groups=2), (x, w, b))


@pytest.mark.parametrize("n_dims", [1, 2, 3])
def test_non_contiguous_inputs(n_dims):
    g = torch.Generator().manual_seed(3)
    base = torch.randn(5, 3, *([9] * n_dims), generator=g)
    x = base.transpose(0, 1)[..., ::2]  # (3, 5, ..., 5): strided batch, channels and width
    assert not x.is_contiguous()
    w = torch.randn(5, 4, *([3] * n_dims), generator=g).transpose(0, 1)  # (4, 5, *K) strided
    assert not w.is_contiguous()
    torch.testing.assert_close(convnd(x, w, padding=1), TORCH_CONV[n_dims](x, w, padding=1))


@pytest.mark.parametrize("batch", [1, 2, 5])
def test_batch_sizes_and_linearity(batch):
    g = torch.Generator().manual_seed(batch)
    x1, x2 = torch.randn(2, batch, 2, 8, 8, generator=g, dtype=torch.float64)
    w = torch.randn(3, 2, 3, 3, generator=g, dtype=torch.float64)
    torch.testing.assert_close(convnd(2 * x1 - 3 * x2, w), 2 * convnd(x1, w) - 3 * convnd(x2, w))
    assert convnd(x1, w).shape == (batch, 3, 6, 6)


def test_lecture_shapes():
    assert convnd(torch.randn(1, 3, 14, 14), torch.randn(16, 3, 5, 5)).shape == (1, 16, 10, 10)
    h = convnd(torch.randn(1, 1, 14), torch.randn(16, 1, 5))
    assert h.shape == (1, 16, 10)
    assert convnd(h, torch.randn(32, 16, 5)).shape == (1, 32, 6)
    v = convnd(torch.randn(1, 1, 14, 14, 14), torch.randn(16, 1, 5, 5, 5))
    assert v.shape == (1, 16, 10, 10, 10)
    assert convnd(v, torch.randn(32, 16, 5, 5, 5)).shape == (1, 32, 6, 6, 6)


@pytest.mark.parametrize("x_shape,w_shape,kwargs,match", [
    ((1, 3, 8), (4, 2, 3), {}, r"channel mismatch: x \(1, 3, 8\).*weight \(4, 2, 3\)"),
    ((1, 1, 4), (2, 1, 5), {}, r"x \(1, 1, 4\), weight \(2, 1, 5\): kernel larger than the padded"),
    ((1, 1, 2, 2), (2, 1, 5, 5), {"padding": 1}, "kernel larger than the padded input"),
    ((1, 1, 8, 8), (2, 1, 3), {}, r"wrong rank.*\(B, C, L\), got \(1, 1, 8, 8\)"),
    ((1, 1, 8), (2, 1, 3, 3), {}, r"wrong rank.*\(B, C, H, W\)"),
    ((1, 1, 8), (2, 1), {}, "weight must be"),
    ((1, 4, 8), (3, 2, 3), {"groups": 2}, r"groups=2 must divide.*\(3, 2, 3\)"),
    ((1, 3, 8), (2, 1, 3), {"groups": 2}, r"groups=2 must divide.*\(1, 3, 8\)"),
    ((1, 1, 8), (2, 1, 3), {"stride": 0}, "stride must be >= 1"),
    ((1, 1, 8, 8), (2, 1, 3, 3), {"stride": (1, 1, 1)}, "stride must be an int or a tuple of 2"),
])
def test_bad_inputs(x_shape, w_shape, kwargs, match):
    with pytest.raises(ValueError, match=match):
        convnd(torch.zeros(x_shape), torch.zeros(w_shape), **kwargs)


@pytest.mark.parametrize("fn", [convnd, convnd_naive])
def test_dtype_mismatch_names_dtypes_and_shapes(fn):
    """float64 input with float32 weights: our ValueError, not torch's 'expected scalar type'."""
    x, w = torch.zeros(1, 2, 8, dtype=torch.float64), torch.zeros(3, 2, 3)
    with pytest.raises(ValueError, match=r"dtype mismatch: x \(1, 2, 8\) is torch.float64 but "
                                         r"weight \(3, 2, 3\) is torch.float32"):
        fn(x, w)
    with pytest.raises(ValueError, match=r"bias \(3,\) is torch.float64"):
        fn(x.float(), w, torch.zeros(3, dtype=torch.float64))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")
def test_device_mismatch_names_devices():
    with pytest.raises(ValueError, match="device mismatch"):
        convnd(torch.zeros(1, 2, 8), torch.zeros(3, 2, 3, device="cuda"))


def test_bad_bias():
    with pytest.raises(ValueError, match=r"bias must have shape \(2,\)"):
        convnd(torch.zeros(1, 1, 8), torch.zeros(2, 1, 3), torch.zeros(3))


@pytest.mark.parametrize("n_dims", [1, 2, 3])
def test_module_matches_function_and_torch_layer(n_dims):
    torch.manual_seed(0)
    layer = ConvNd(4, 6, 3, n_dims=n_dims, stride=2, padding=1, groups=2)
    ref = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}[n_dims](
        4, 6, 3, stride=2, padding=1, groups=2)
    ref.load_state_dict(layer.state_dict())
    x = torch.randn(2, 4, *([6] * n_dims))
    torch.testing.assert_close(layer(x), ref(x))
    assert layer.weight.shape == ref.weight.shape


def test_module_bad_arguments():
    with pytest.raises(ValueError, match="n_dims"):
        ConvNd(1, 1, 3, n_dims=4)
    with pytest.raises(ValueError, match="groups=2"):
        ConvNd(3, 4, 3, groups=2)


@pytest.mark.parametrize("which", ["x", "weight"])
def test_gradient_of_one_input_only(which):
    g = torch.Generator().manual_seed(11)
    x = torch.randn(3, 4, 9, 9, generator=g, dtype=torch.float64, requires_grad=which == "x")
    w = torch.randn(6, 2, 3, 3, generator=g, dtype=torch.float64, requires_grad=which == "weight")
    kw = {"stride": 2, "padding": 1, "dilation": 2, "groups": 2}
    (mine,) = torch.autograd.grad(convnd(x, w, **kw).square().sum(), x if which == "x" else w)
    (ref,) = torch.autograd.grad(F.conv2d(x, w, **kw).square().sum(), x if which == "x" else w)
    torch.testing.assert_close(mine, ref)


def test_large_input_values_and_gradients():
    g = torch.Generator().manual_seed(12)
    x = torch.randn(20, 8, 64, 64, generator=g, dtype=torch.float64, requires_grad=True)  # 5 MB
    w = torch.randn(4, 8, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    torch.testing.assert_close(convnd(x, w, padding=1), F.conv2d(x, w, padding=1))
    convnd(x, w, padding=1).sum().backward()
    gx, gw = x.grad.clone(), w.grad.clone()
    x.grad = w.grad = None
    F.conv2d(x, w, padding=1).sum().backward()
    torch.testing.assert_close(gx, x.grad)
    torch.testing.assert_close(gw, w.grad)
