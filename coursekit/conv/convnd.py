"""A vectorised N-d convolution written from scratch (lesson 4.11: 1-D and 3-D generalisations).

Deep-learning "convolution" is cross-correlation: the kernel is not flipped. For an input
``x`` (B, C, *S) and a weight (C_out, C/groups, *K),

.. math:: y[b, o, \\mathbf{i}] = \\mathrm{bias}[o] + \\sum_{c}\\sum_{\\mathbf{k}}
          w[o, c, \\mathbf{k}]\\; x_{pad}[b, g(o) C_g + c, s\\mathbf{i} + d\\mathbf{k}].

:func:`convnd` builds every receptive-field patch as a strided *view* of the padded input
(``Tensor.unfold`` once per spatial dimension, no copy), copies the windows into columns
(*im2col*) and multiplies them by the flattened filters in one batched matrix product. The same
code serves 1-D signals, 2-D images and 3-D volumes. Its backward pass is written out too:
:math:`\\partial W = \\partial y \\cdot \\mathrm{im2col}(x)^T` and
:math:`\\partial x = \\mathrm{col2im}(W^T \\partial y)` (each kernel tap's gradient added back onto
the input positions it read), so autograd works through :func:`convnd` (first derivatives;
there is no double backward). :class:`ConvNd` is the layer.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from coursekit.conv.shapes import IntOrTuple, _as_tuple, conv_output_shape

__all__ = ["ConvNd", "convnd"]

_CHUNK_BYTES = 8 * 2**20  # im2col buffer size per matrix product (see convnd)


def _check_conv_args(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: IntOrTuple,
    padding: IntOrTuple,
    dilation: IntOrTuple,
    groups: int,
) -> tuple[int, tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Validate a convolution's arguments; return ``(n_dims, stride, padding, dilation)``."""
    if not isinstance(x, torch.Tensor) or not isinstance(weight, torch.Tensor):
        raise ValueError("x and weight must be torch tensors")
    if weight.dim() not in (3, 4, 5):
        raise ValueError(
            f"weight must be (C_out, C_in/groups, *K) with 1 to 3 spatial dims, got shape "
            f"{tuple(weight.shape)}"
        )
    n = weight.dim() - 2
    if x.dim() != n + 2:
        expected = {1: "(B, C, L)", 2: "(B, C, H, W)", 3: "(B, C, D, H, W)"}[n]
        raise ValueError(
            f"wrong rank: weight {tuple(weight.shape)} is {n}-d, so x must be {expected}, "
            f"got {tuple(x.shape)}"
        )
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"groups must be a positive int, got {groups!r}")
    c_out, c_per_group = weight.shape[:2]
    if x.shape[1] % groups or c_out % groups:
        raise ValueError(
            f"groups={groups} must divide both input channels (x {tuple(x.shape)}) and output "
            f"channels (weight {tuple(weight.shape)})"
        )
    if x.shape[1] != c_per_group * groups:
        raise ValueError(
            f"channel mismatch: x {tuple(x.shape)} has {x.shape[1]} channels but weight "
            f"{tuple(weight.shape)} expects {c_per_group} x groups={groups} = {c_per_group * groups}"
        )
    if bias is not None and tuple(bias.shape) != (c_out,):
        raise ValueError(f"bias must have shape ({c_out},), got {tuple(bias.shape)}")
    strides = _as_tuple(stride, n, "stride")
    pads = _as_tuple(padding, n, "padding")
    dils = _as_tuple(dilation, n, "dilation")
    try:
        conv_output_shape(tuple(x.shape[2:]), tuple(weight.shape[2:]), strides, pads, dils)
    except ValueError as err:
        raise ValueError(f"x {tuple(x.shape)}, weight {tuple(weight.shape)}: {err}") from None
    return n, strides, pads, dils


def _im2col(x: torch.Tensor, kernel, strides, dils, groups: int) -> torch.Tensor:
    """Every receptive field of the (padded) ``x`` (B, C, *S) as columns: (B, G, C_g*K, P)."""
    n = len(kernel)
    patches = x
    for i, (k, s, d) in enumerate(zip(kernel, strides, dils)):
        # new last dim of size d*(k-1)+1 holds one (dilated) window; keep every d-th tap
        patches = patches.unfold(2 + i, d * (k - 1) + 1, s)[..., ::d]
    # patches: (B, C, *S_out, *K), a view of x (no copy); kernel dims next to the channels:
    src = patches.permute(0, 1, *range(2 + n, 2 + 2 * n), *range(2, 2 + n))  # (B, C, *K, *S_out)
    # copy_ into a new buffer: for these overlapping views it is much faster than .reshape()
    cols = src.new_empty(src.shape).copy_(src)
    return cols.view(x.shape[0], groups, -1, math.prod(patches.shape[2 : 2 + n]))


def _col2im_add(grad_x: torch.Tensor, grad_cols: torch.Tensor, kernel, strides, dils) -> None:
    """Add the column gradients (B, C, *K, *S_out) back onto the input positions they came from."""
    out_sizes = grad_cols.shape[2 + len(kernel):]
    for taps in itertools.product(*(range(k) for k in kernel)):  # one strided add per kernel tap
        window = tuple(slice(d * t, d * t + s * (o - 1) + 1, s)
                       for t, s, d, o in zip(taps, strides, dils, out_sizes))
        grad_x[(slice(None), slice(None), *window)] += grad_cols[(slice(None), slice(None), *taps)]


def _chunks(x: torch.Tensor, weight: torch.Tensor, out_sizes) -> int:
    """Samples per matrix product so that one im2col buffer holds about ``_CHUNK_BYTES``.

    (A very large buffer is fresh memory on every call, and filling it would cost more than
    the product itself.)
    """
    per_sample = x.shape[1] * math.prod(weight.shape[2:]) * math.prod(out_sizes) * x.element_size()
    return max(1, _CHUNK_BYTES // max(per_sample, 1))


class _Im2colMatmul(torch.autograd.Function):
    """``y = W @ im2col(x)`` on a padded input, with an explicit backward:
    ``dW = dy @ im2col(x)ᵀ`` and ``dx = col2im(Wᵀ @ dy)``, both taken in batch chunks."""

    @staticmethod
    def forward(ctx, x, weight, strides, dils, groups):
        kernel = tuple(weight.shape[2:])
        c_out = weight.shape[0]
        w = weight.reshape(groups, c_out // groups, -1)  # (G, O_g, C_g*K)
        out_sizes = [(size - d * (k - 1) - 1) // s + 1
                     for size, k, s, d in zip(x.shape[2:], kernel, strides, dils)]
        chunk = _chunks(x, weight, out_sizes)
        outs = [torch.matmul(w, _im2col(part, kernel, strides, dils, groups))  # (b, G, O_g, P)
                for part in x.split(chunk)]
        out = outs[0] if len(outs) == 1 else torch.cat(outs)
        ctx.save_for_backward(x, weight)
        ctx.conf = (strides, dils, groups, chunk)
        return out.reshape(x.shape[0], c_out, *out_sizes)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        strides, dils, groups, chunk = ctx.conf
        kernel = tuple(weight.shape[2:])
        c_out = weight.shape[0]
        w = weight.reshape(groups, c_out // groups, -1)  # (G, O_g, C_g*K)
        need_x, need_w = ctx.needs_input_grad[:2]
        grad_x = torch.zeros_like(x) if need_x else None
        grad_w = torch.zeros_like(w) if need_w else None
        for start in range(0, x.shape[0], chunk):
            part = x[start : start + chunk]
            g = grad_out[start : start + chunk].reshape(part.shape[0], groups, c_out // groups, -1)
            if need_w:  # (b, G, O_g, P) @ (b, G, P, C_g*K), summed over the batch
                grad_w += torch.matmul(g, _im2col(part, kernel, strides, dils, groups).transpose(-1, -2)
                                       ).sum(0)
            if need_x:
                grad_cols = torch.matmul(w.transpose(-1, -2), g)  # (b, G, C_g*K, P)
                grad_cols = grad_cols.view(part.shape[0], x.shape[1], *kernel,
                                           *grad_out.shape[2:])  # (b, C, *K, *S_out)
                _col2im_add(grad_x[start : start + chunk], grad_cols, kernel, strides, dils)
        return grad_x, (grad_w.view(weight.shape) if need_w else None), None, None, None


def convnd(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
) -> torch.Tensor:
    """1-D, 2-D or 3-D convolution (cross-correlation) from strided views and one matrix product.

    Equal to ``torch.nn.functional.conv1d/conv2d/conv3d`` with the same arguments, within
    floating-point tolerance, and differentiable.

    Args:
        x: input (B, C, L), (B, C, H, W) or (B, C, D, H, W); any strides.
        weight: filters (C_out, C/groups, *K) with as many spatial dims as ``x``.
        bias: optional (C_out,).
        stride: step between windows, an int or one per spatial dim.
        padding: zeros added on both sides, an int or one per spatial dim.
        dilation: spacing between kernel taps, an int or one per spatial dim.
        groups: split channels into this many independent groups.

    Returns:
        (B, C_out, *S_out) with ``S_out`` given by :func:`conv_output_shape`.

    Raises:
        ValueError: wrong rank, channel mismatch, groups not dividing the channels, bad bias
            shape, or a kernel larger than the padded input (the message names the shapes).

    Example:
        >>> x = torch.randn(2, 1, 14)            # the lecture's ECG: length 14, one channel
        >>> w = torch.randn(16, 1, 5)            # sixteen filters of width 5
        >>> convnd(x, w).shape
        torch.Size([2, 16, 10])
        >>> torch.allclose(convnd(x, w), F.conv1d(x, w), atol=1e-5)
        True
    """
    n, strides, pads, dils = _check_conv_args(x, weight, bias, stride, padding, dilation, groups)
    if any(pads):
        # F.pad lists pads from the last dim backwards: (left_W, right_W, left_H, right_H, ...)
        x = F.pad(x, [p for p in reversed(pads) for _ in range(2)])
    out = _Im2colMatmul.apply(x, weight, strides, dils, groups)
    if bias is not None:
        out = out + bias.view(1, -1, *([1] * n))
    return out


class ConvNd(nn.Module):
    """A convolution layer whose ``forward`` calls :func:`convnd` (for ``use_convnd=True`` models).

    Initialised like ``torch.nn.Conv1d/2d/3d`` (Kaiming-uniform weights, uniform bias).

    Args:
        in_channels: C.
        out_channels: C_out.
        kernel_size: an int or one size per spatial dim.
        n_dims: 1, 2 or 3 spatial dimensions (used when ``kernel_size`` is an int).
        stride, padding, dilation, groups, bias: as in :func:`convnd`.

    Shape:
        input (B, C, *S) → output (B, C_out, *S_out).

    Example:
        >>> layer = ConvNd(1, 16, 5, n_dims=3)
        >>> layer(torch.randn(1, 1, 14, 14, 14)).shape
        torch.Size([1, 16, 10, 10, 10])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrTuple,
        *,
        n_dims: int = 2,
        stride: IntOrTuple = 1,
        padding: IntOrTuple = 0,
        dilation: IntOrTuple = 1,
        groups: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(kernel_size, int):
            n_dims = len(tuple(kernel_size))
        if n_dims not in (1, 2, 3):
            raise ValueError(f"n_dims must be 1, 2 or 3, got {n_dims}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"groups={groups} must divide in_channels={in_channels} and "
                             f"out_channels={out_channels}")
        kernel = _as_tuple(kernel_size, n_dims, "kernel_size")
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, *kernel))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.weight[0].numel())
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return convnd(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
