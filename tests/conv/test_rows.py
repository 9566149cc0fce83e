"""convnd's CPU forward as im2col rows (coursekit.conv._rows) against torch's conv1d/2d/3d."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import coursekit.conv._rows as rows
from coursekit.conv import conv_output_shape, convnd

TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def run_rows(x, w, stride, padding, dilation, groups):
    """``rows_forward`` with convnd's per-dimension settings (ints or tuples)."""
    n = x.dim() - 2
    stride, padding, dilation = (v if isinstance(v, tuple) else (v,) * n for v in (stride, padding, dilation))
    out = conv_output_shape(tuple(x.shape[2:]), tuple(w.shape[2:]), stride, padding, dilation)
    return rows.rows_forward(x, w, stride, padding, dilation, groups, out)


CASES = [  # (x shape, w shape, stride, padding, dilation, groups)
    ((2, 8, 12), (5, 8, 3), 1, 1, 1, 1),  # runs of 3 taps x 8 channels
    ((2, 8, 12), (5, 8, 3), 1, 2, 2, 1),  # dilation: runs of one tap
    ((3, 4, 9, 11), (6, 4, 3, 3), 2, 1, 1, 1),  # stride: phases
    ((1, 6, 7, 8), (4, 3, 2, 3), 1, 0, 1, 2),  # groups
    ((2, 1, 6, 7, 5), (3, 1, 3, 3, 3), 1, 1, 1, 1),  # one channel
    ((2, 8, 6, 6, 6), (16, 8, 3, 3, 3), 1, 1, 1, 1),  # VolumeNet's second block, smaller
    ((2, 6, 5, 7, 6), (6, 2, 3, 1, 2), (1, 2, 1), 1, 1, 3),  # mixed per-dimension settings
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}x{c[1]}")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rows_forward_matches_torch(case, dtype):
    x_shape, w_shape, stride, padding, dilation, groups = case
    g = torch.Generator().manual_seed(0)
    x = torch.randn(x_shape, generator=g, dtype=dtype)
    w = torch.randn(w_shape, generator=g, dtype=dtype)
    y = run_rows(x, w, stride, padding, dilation, groups)
    expected = TORCH_CONV[x.dim() - 2](x, w, stride=stride, padding=padding, dilation=dilation, groups=groups)
    torch.testing.assert_close(y, expected, rtol=1e-4, atol=1e-4)


def test_rows_forward_in_many_chunks(monkeypatch):
    """Chunks of a few rows, the last one partial, give the same result as one chunk."""
    g = torch.Generator().manual_seed(1)
    x, w = torch.randn(3, 8, 7, 9, generator=g), torch.randn(5, 8, 3, 3, generator=g)
    whole = run_rows(x, w, 1, 1, 1, 1)
    monkeypatch.setattr(rows, "_CHUNK_BYTES", 5 * 9 * 8 * 4)  # 5 rows of 72 floats per product
    torch.testing.assert_close(run_rows(x, w, 1, 1, 1, 1), whole)
    torch.testing.assert_close(whole, F.conv2d(x, w, padding=1), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA"))])
@pytest.mark.parametrize("case", [((2, 8, 5, 6, 7), (4, 8, 3, 3, 3), 1),   # rows path (CPU)
                                  ((2, 1, 5, 6, 7), (4, 1, 3, 3, 3), 1),   # im2col (one channel)
                                  ((2, 8, 9, 10), (8, 2, 3, 3), 4),        # tap loop (groups)
                                  ((3, 6, 20), (5, 6, 3), 1)])
def test_output_layout_is_standard_on_every_path_and_device(case, device):
    """The output is a contiguous (B, C_out, *S_out) whatever path computed it, on any device."""
    x_shape, w_shape, groups = case
    x, w = torch.randn(x_shape, device=device), torch.randn(w_shape, device=device)
    y = convnd(x, w, padding=1, groups=groups)
    assert y.is_contiguous()
    assert y.stride() == torch.empty(y.shape).stride()
    ref = TORCH_CONV[x.dim() - 2](x, w, padding=1, groups=groups)
    torch.testing.assert_close(y, ref, rtol=1e-4, atol=1e-4)


def test_product_paths_agree():
    """oneDNN's inner product (float32 on the CPU) and ``@`` (float64) compute the same product."""
    g = torch.Generator().manual_seed(2)
    cols, w = torch.randn(50, 72, generator=g), torch.randn(6, 72, generator=g)
    torch.testing.assert_close(rows._product(cols, w), cols @ w.t(), rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(rows._product(cols.double(), w.double()), cols.double() @ w.double().t())


def test_run_length():
    # taps as (phase, offset): a 2x3 kernel with consecutive offsets in its last axis
    assert rows._run_length([(0, 0), (0, 1), (0, 2), (0, 10), (0, 11), (0, 12)], 3) == 3
    assert rows._run_length([(0, 0), (0, 2), (0, 4)], 3) == 1  # dilation 2
    assert rows._run_length([(0, 0), (1, 0), (0, 1)], 3) == 1  # stride 2: alternating phases


def test_use_rows():
    x, w = torch.randn(1, 8, 5, 5), torch.randn(4, 8, 3, 3)
    assert rows.use_rows(x, w, 1)
    assert not rows.use_rows(x, torch.randn(4, 2, 3, 3), 4)  # groups: the tap loop
    assert not rows.use_rows(torch.randn(1, 1, 5, 5), torch.randn(4, 1, 3, 3), 1)  # one channel


@pytest.mark.parametrize("n_dims", [1, 2, 3])
def test_convnd_rows_path_gradients(n_dims):
    """convnd's forward on the rows path and its tap-loop backward agree with torch."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 6, *(5,) * n_dims, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 6, *(3,) * n_dims, generator=g, dtype=torch.float64, requires_grad=True)
    assert rows.use_rows(x, w, 1)
    y = convnd(x, w, padding=1)
    y_ref = TORCH_CONV[n_dims](x, w, padding=1)
    torch.testing.assert_close(y, y_ref)
    grad = torch.randn(y.shape, generator=g, dtype=torch.float64)
    torch.testing.assert_close(torch.autograd.grad(y, (x, w), grad), torch.autograd.grad(y_ref, (x, w), grad))
    small = (x[:1, :, :3].detach().clone().requires_grad_(), w[:2].detach().clone().requires_grad_())
    assert torch.autograd.gradcheck(lambda a, b: convnd(a, b, padding=1), small)


@pytest.mark.parametrize("layout", ["sliced", "channels_last", "channels_last_offset", "transposed"])
@pytest.mark.parametrize("padding", [0, 1])
def test_rows_path_any_input_strides(layout, padding):
    """Without padding the row table is the input itself, viewed channels-last: any strides work."""
    g = torch.Generator().manual_seed(4)
    base = torch.randn(3, 10, 9, 8, generator=g)
    x = {"sliced": base[1:, 2:, 1:, ::2],
         "channels_last": base.contiguous(memory_format=torch.channels_last),
         "channels_last_offset": base.contiguous(memory_format=torch.channels_last)[1:],
         "transposed": base.transpose(2, 3)}[layout]
    w = torch.randn(5, x.shape[1], 3, 2, generator=g)
    assert rows.use_rows(x, w, 1)
    torch.testing.assert_close(convnd(x, w, padding=padding), F.conv2d(x, w, padding=padding),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("n_dims", [1, 2, 3])
@pytest.mark.parametrize("seed", range(6))
def test_rows_path_random_shapes_and_gradients(n_dims, seed):
    """Random strides, paddings, dilations and batch sizes with 4-7 input channels (the rows path):
    values and both gradients equal torch's."""
    g = torch.Generator().manual_seed(1000 * n_dims + seed)

    def ri(lo, hi):
        return int(torch.randint(lo, hi + 1, (1,), generator=g))

    kernel = tuple(ri(1, 3) for _ in range(n_dims))
    kw = dict(stride=tuple(ri(1, 3) for _ in range(n_dims)), padding=tuple(ri(0, 2) for _ in range(n_dims)),
              dilation=tuple(ri(1, 2) for _ in range(n_dims)))
    size = tuple(ri(max(1, d * (k - 1) + 1 - 2 * p), 9 if n_dims < 3 else 6)
                 for k, p, d in zip(kernel, kw["padding"], kw["dilation"]))
    x = torch.randn(ri(1, 3), ri(4, 7), *size, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(ri(1, 5), x.shape[1], *kernel, generator=g, dtype=torch.float64, requires_grad=True)
    assert rows.use_rows(x, w, 1)
    y, y_ref = convnd(x, w, **kw), TORCH_CONV[n_dims](x, w, **kw)
    torch.testing.assert_close(y, y_ref)
    grad = torch.randn(y.shape, generator=g, dtype=torch.float64)
    torch.testing.assert_close(torch.autograd.grad(y, (x, w), grad), torch.autograd.grad(y_ref, (x, w), grad))
    x32, w32 = x.detach().float(), w.detach().float()  # float32: oneDNN's product
    torch.testing.assert_close(convnd(x32, w32, **kw), TORCH_CONV[n_dims](x32, w32, **kw),
                               rtol=1e-4, atol=1e-4)


@pytest.fixture
def fresh_capability():
    """Clear the cached capability check before and after a test that changes what it sees."""
    rows.onednn_linear_works.cache_clear()
    yield
    rows.onednn_linear_works.cache_clear()


def test_product_falls_back_to_matmul(monkeypatch, fresh_capability):
    """Where oneDNN's kernel refuses the probe, the capability check says no and the product is ``@``."""
    def refuse(*args):
        raise RuntimeError("no such kernel here")

    monkeypatch.setattr(torch.ops.mkldnn, "_linear_pointwise", refuse, raising=False)
    assert not rows.onednn_linear_works(torch.float32)
    cols, w = torch.randn(7, 12), torch.randn(3, 12)
    torch.testing.assert_close(rows._product(cols, w), cols @ w.t())


def test_capability_check_refuses_a_wrong_kernel(monkeypatch, fresh_capability):
    """A kernel that runs but computes something else (e.g. a changed private signature) is not used."""
    monkeypatch.setattr(torch.ops.mkldnn, "_linear_pointwise", lambda a, b, *rest: a @ b.t() + 1,
                        raising=False)
    assert not rows.onednn_linear_works(torch.float32)
    cols, w = torch.randn(7, 12), torch.randn(3, 12)
    torch.testing.assert_close(rows._product(cols, w), cols @ w.t())


def test_capability_check_without_mkldnn(monkeypatch, fresh_capability):
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: False)
    assert not rows.onednn_linear_works(torch.float32)


def test_capability_check_here():
    """On this machine: the answer is a bool, and a yes means the kernel matches ``@``."""
    works = rows.onednn_linear_works(torch.float32)
    assert isinstance(works, bool)
    if works:
        cols, w = torch.randn(50, 72), torch.randn(6, 72)
        out = torch.ops.mkldnn._linear_pointwise(cols, w, None, "none", [], "")
        torch.testing.assert_close(out, cols @ w.t(), rtol=1e-5, atol=1e-4)
