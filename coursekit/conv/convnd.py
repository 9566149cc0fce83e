"""A vectorised N-d convolution written from scratch (lesson 4.11: 1-D and 3-D generalisations).

Deep-learning "convolution" is cross-correlation: the kernel is not flipped. For an input
``x`` (B, C, *S) and a weight (C_out, C/groups, *K),

.. math:: y[b, o, \\mathbf{i}] = \\mathrm{bias}[o] + \\sum_{c}\\sum_{\\mathbf{k}}
          w[o, c, \\mathbf{k}]\\; x_{pad}[b, g(o) C_g + c, s\\mathbf{i} + d\\mathbf{k}].

:func:`convnd` writes the convolution as a sum over the kernel's taps: for each tap, one matrix
product of that tap's weights (C_out, C/groups) with a shifted, strided *view* of the padded
input, which holds the input values that tap meets at every output position. Strides are
handled by first splitting the input into its stride phases (space-to-depth), after which every
tap's view is one contiguous window (details in :mod:`coursekit.conv._taps`); with one to three
input channels per group the windows are instead copied into columns (*im2col*) for one product,
as a product per tap would be a thin outer product. On the CPU, with one group and at least four
input channels, the forward pass gathers *im2col rows* instead, one row of receptive-field values
per output position, and multiplies them by the filters in one product per few-MiB chunk
(:mod:`coursekit.conv._rows`). Every path returns a contiguous (B, C_out, *S_out) tensor, on
every device. The same code serves 1-D signals, 2-D images and 3-D volumes. The backward pass
is written out with the same windows: :math:`\\partial W_t = \\partial y \\cdot \\mathrm{window}_t^T` and
:math:`\\partial\\,\\mathrm{window}_t \\mathrel{+}= W_t^T \\partial y` (a transposed convolution,
each tap's gradient added back onto the input positions it read); a double backward (for
example a gradient penalty) differentiates the forward again through autograd.
:class:`ConvNd` is the layer.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from coursekit.conv._rows import rows_forward, use_rows
from coursekit.conv._taps import phase_merge, phase_split, tap_table, taps_backward, taps_forward
from coursekit.conv.shapes import IntOrTuple, as_tuple, check_conv_args, conv_output_shape

__all__ = ["ConvNd", "convnd"]


class _TapsConv(torch.autograd.Function):
    """``convnd`` without bias: the forward as im2col rows (:mod:`coursekit.conv._rows`, on the CPU)
    or as a sum over kernel taps (:mod:`coursekit.conv._taps`), the backward over the taps;
    differentiating that backward again (double backward) re-runs the tap forward under autograd."""

    @staticmethod
    def forward(ctx, x, weight, strides, pads, dils, groups):
        out_sizes = conv_output_shape(tuple(x.shape[2:]), tuple(weight.shape[2:]), strides, pads, dils)
        ctx.save_for_backward(x, weight)
        ctx.conf = (strides, pads, dils, groups, out_sizes)
        if use_rows(x, weight, groups):  # CPU: im2col rows and one product per chunk
            return rows_forward(x, weight, strides, pads, dils, groups, out_sizes)
        phases, q = phase_split(x, pads, strides)  # (B, C, P, Q)
        taps, m, q_strides = tap_table(weight.shape[2:], strides, dils, q, out_sizes)
        y_flat = taps_forward(phases, weight, taps, m, groups)  # (B, C_out, m)
        return _unflatten(y_flat, out_sizes, q_strides).contiguous()

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        strides, pads, dils, groups, out_sizes = ctx.conf
        need_x, need_w = ctx.needs_input_grad[:2]
        phases, q = phase_split(x, pads, strides)  # (B, C, P, Q)
        taps, m, q_strides = tap_table(weight.shape[2:], strides, dils, q, out_sizes)
        if torch.is_grad_enabled():  # create_graph=True: a backward that is itself differentiable
            inputs = [t for t, need in ((x, need_x), (weight, need_w)) if need]
            y = _unflatten(taps_forward(phases, weight, taps, m, groups), out_sizes, q_strides)
            grads = iter(torch.autograd.grad(y, inputs, grad_out, create_graph=True))
            return (next(grads) if need_x else None, next(grads) if need_w else None,
                    None, None, None, None)
        grad_flat = grad_out.new_zeros(*grad_out.shape[:2], m)  # (B, C_out, m), 0 at dropped rows
        _unflatten(grad_flat, out_sizes, q_strides).copy_(grad_out)
        grad_ph, grad_w = taps_backward(phases, weight, grad_flat, taps, m, groups, need_x, need_w)
        grad_x = phase_merge(grad_ph, x.shape, pads, strides, q) if need_x else None
        return grad_x, grad_w, None, None, None, None


def _unflatten(y_flat: torch.Tensor, out_sizes, q_strides) -> torch.Tensor:
    """The output positions (B, C_out, *S_out) of a flat grid (B, C_out, m), as a strided view."""
    b, c_out, m = y_flat.shape
    return y_flat.as_strided((b, c_out, *out_sizes), (c_out * m, m, *q_strides), y_flat.storage_offset())


def convnd(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
) -> torch.Tensor:
    """1-D, 2-D or 3-D convolution (cross-correlation) from strided views and matrix products.

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
        (B, C_out, *S_out), contiguous, with ``S_out`` given by :func:`conv_output_shape`.

    Raises:
        ValueError: wrong rank, channel mismatch, groups not dividing the channels, bad bias
            shape, tensors of different dtypes or devices, or a kernel larger than the padded
            input (the message names the shapes; see :func:`check_conv_args`).

    Example:
        >>> x = torch.randn(2, 1, 14)            # the lecture's ECG: length 14, one channel
        >>> w = torch.randn(16, 1, 5)            # sixteen filters of width 5
        >>> convnd(x, w).shape
        torch.Size([2, 16, 10])
        >>> torch.allclose(convnd(x, w), torch.nn.functional.conv1d(x, w), atol=1e-5)
        True
    """
    n, strides, pads, dils = check_conv_args(x, weight, bias, stride, padding, dilation, groups)
    out = _TapsConv.apply(x, weight, strides, pads, dils, groups)
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
        kernel = as_tuple(kernel_size, n_dims, "kernel_size")
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, *kernel))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.weight[0].numel())
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return convnd(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
