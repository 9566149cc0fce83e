"""Private helpers of :func:`coursekit.conv.convnd`: a convolution as a sum over kernel taps.

Layout. The zero-padded input (B, C, *S_pad) is split into its stride *phases* (space-to-depth:
along a dimension with stride s, the positions ``s*i + r`` form phase ``r``) and each phase is
flattened, giving (B, C, P, Q): ``P = prod(s)`` phases of ``Q = prod(q)`` grid positions,
``q = ceil(S_pad / s)``. Output position ``i`` and kernel tap ``k`` read the padded input at
``s*i + d*k``, which is phase ``d*k mod s`` at grid position ``i + d*k // s``. So, for every
tap ``t``, the inputs it meets over all outputs form one *contiguous window* of a flattened
phase, shifted by that tap's offset:

.. math:: y_{flat}[b, :, j] = \\sum_t W_t \\; phases[b, :, phase_t, offset_t + j], \\quad j < m,

with ``y[b, :, i_1..i_n] = y_flat[b, :, sum_k i_k * q_stride_k]``. The flat rows also hold
positions past the right edge of the output, computed and dropped: the price of windows that
the matrix products read in place, without an im2col copy. With stride 1 there is one phase
and the split is only the padding. The backward pass runs the same loop the other way:
``dW_t = dy_flat @ window_tᵀ`` and ``window_t += W_tᵀ @ dy_flat`` (a transposed convolution).
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F

__all__: list[str] = []  # private module: nothing re-exported

# Build im2col columns, one product instead of one per tap, when a tap's product would be
# a thin outer product (fewer input channels per group than this) and the columns are small.
_IM2COL_MAX_CHANNELS = 4
_IM2COL_MAX_BYTES = 32 * 2**20
_CHUNK_BYTES = 2**20  # samples per pass through the taps, about an L2 cache (see _batch_chunks)


def phase_split(x: torch.Tensor, pads, strides) -> tuple[torch.Tensor, list[int]]:
    """Zero-pad ``x`` (B, C, *S) and split it into stride phases: (B, C, P, Q) and the grid ``q``."""
    n = len(strides)
    q = [-(-(size + 2 * p) // s) for size, p, s in zip(x.shape[2:], pads, strides)]  # ceil
    # p zeros on the left, up to q*s on the right; F.pad lists the last dim first
    pad = [amount for size, p, s, qq in reversed(list(zip(x.shape[2:], pads, strides, q)))
           for amount in (p, qq * s - size - p)]
    if any(pad):
        x = F.pad(x, pad)  # (B, C, *q*s)
    b, c = x.shape[:2]
    if all(s == 1 for s in strides):
        return x.reshape(b, c, 1, -1), q
    x = x.reshape(b, c, *itertools.chain(*zip(q, strides)))  # (B, C, q_1, s_1, ..., q_n, s_n)
    x = x.permute(0, 1, *range(3, 2 * n + 2, 2), *range(2, 2 * n + 2, 2))  # (B, C, *s, *q)
    return x.reshape(b, c, math.prod(strides), math.prod(q)), q


def phase_merge(phases: torch.Tensor, x_shape, pads, strides, q) -> torch.Tensor:
    """Inverse of :func:`phase_split` (for gradients): (B, C, P, Q) back to (B, C, *S), unpadded."""
    n = len(strides)
    b, c = phases.shape[:2]
    x = phases.reshape(b, c, *strides, *q)
    x = x.permute(0, 1, *itertools.chain(*((2 + n + i, 2 + i) for i in range(n))))  # (B, C, q_1, s_1, ...)
    x = x.reshape(b, c, *(qq * s for qq, s in zip(q, strides)))  # (B, C, *S_pad)
    return x[(..., *(slice(p, p + size) for p, size in zip(pads, x_shape[2:])))]


def tap_table(kernel, strides, dils, q, out_sizes) -> tuple[list[tuple[int, int]], int, list[int]]:
    """``(phase, offset)`` of every kernel tap (row-major), window length ``m``, grid strides."""
    q_strides = [math.prod(q[i + 1:]) for i in range(len(q))]
    taps = []
    for tap in itertools.product(*(range(k) for k in kernel)):
        phase = offset = 0
        for t, s, d, qs in zip(tap, strides, dils, q_strides):
            phase, offset = phase * s + d * t % s, offset + d * t // s * qs
        taps.append((phase, offset))
    m = sum((o - 1) * qs for o, qs in zip(out_sizes, q_strides)) + 1
    return taps, m, q_strides


def use_im2col(phases: torch.Tensor, weight: torch.Tensor, m: int) -> bool:
    """Whether to copy the windows into columns (tiny ``C/groups``, small buffer) or loop over taps."""
    c_per_group, n_taps = weight.shape[1], math.prod(weight.shape[2:])
    cols_bytes = phases.shape[0] * phases.shape[1] * n_taps * m * phases.element_size()
    return c_per_group < _IM2COL_MAX_CHANNELS and cols_bytes <= _IM2COL_MAX_BYTES


def _batch_chunks(phases: torch.Tensor, weight: torch.Tensor, m: int, groups: int) -> list[slice]:
    """Slices of the (B*G) rows whose windows and outputs take about ``_CHUNK_BYTES``: each is
    taken through all the taps while it is still in the cache."""
    b, c = phases.shape[:2]
    per_sample = (c + weight.shape[0]) * m * phases.element_size()
    step = max(1, _CHUNK_BYTES // per_sample) * groups
    return [slice(start, start + step) for start in range(0, b * groups, step)]


def taps_forward(phases: torch.Tensor, weight: torch.Tensor, taps, m: int, groups: int) -> torch.Tensor:
    """``y_flat`` (B, C_out, m) from ``phases`` (B, C, P, Q) and ``weight`` (C_out, C/G, *K).

    Plain (autograd-friendly) tensor operations: the double backward differentiates this.
    """
    b, c, n_phases, big_q = phases.shape
    c_out, c_g = weight.shape[:2]
    ph = phases.reshape(b * groups, c_g, n_phases, big_q)  # (B*G, C_g, P, Q)
    w = weight.reshape(groups, c_out // groups, c_g, len(taps))  # (G, O_g, C_g, K)
    if use_im2col(phases, weight, m):
        cols = ph.new_empty(b * groups, c_g, len(taps), m)  # (B*G, C_g, K, m)
        for t, (phase, offset) in enumerate(taps):
            cols[:, :, t] = ph[:, :, phase, offset : offset + m]
        cols = cols.view(b, groups, c_g * len(taps), m)  # (B, G, C_g*K, m)
        return torch.matmul(w.reshape(groups, -1, c_g * len(taps)), cols).view(b, c_out, m)
    y = ph.new_empty(b * groups, c_out // groups, m)  # (B*G, O_g, m)
    for rows in _batch_chunks(phases, weight, m, groups):
        n = ph[rows].shape[0] // groups
        y_rows = None
        for t, (phase, offset) in enumerate(taps):
            w_t = w[..., t].expand(n, -1, -1, -1).reshape(n * groups, -1, c_g)  # (n*G, O_g, C_g)
            window = ph[rows, :, phase, offset : offset + m]  # (n*G, C_g, m), a view
            y_rows = torch.bmm(w_t, window) if y_rows is None else y_rows.baddbmm_(w_t, window)
        y[rows] = y_rows
    return y.view(b, c_out, m)


def taps_backward(phases, weight, grad_flat, taps, m: int, groups: int, need_x: bool, need_w: bool):
    """Gradients of :func:`taps_forward`: ``(grad_phases (B, C, P, Q), grad_weight)`` (or None).

    ``grad_flat`` (B, C_out, m) is the output gradient on the flat grid, zero at dropped rows.
    """
    b, c, n_phases, big_q = phases.shape
    c_out, c_g = weight.shape[:2]
    ph = phases.reshape(b * groups, c_g, n_phases, big_q)  # (B*G, C_g, P, Q)
    g = grad_flat.reshape(b * groups, c_out // groups, m)  # (B*G, O_g, m)
    w_t_all = weight.reshape(groups, c_out // groups, c_g, len(taps)).transpose(1, 2)  # (G, C_g, O_g, K)
    grad_ph = torch.zeros_like(ph) if need_x else None
    grad_w = weight.new_zeros(groups, c_out // groups, c_g, len(taps)) if need_w else None
    for rows in _batch_chunks(phases, weight, m, groups):
        n = ph[rows].shape[0] // groups
        for t, (phase, offset) in enumerate(taps):
            window = ph[rows, :, phase, offset : offset + m]  # (n*G, C_g, m)
            if need_w:  # dW_t = sum over the batch of dy (O_g, m) @ window (m, C_g)
                grad_w[..., t] += torch.bmm(g[rows], window.transpose(1, 2)).view(n, groups, -1, c_g).sum(0)
            if need_x:  # window_t += W_tᵀ (C_g, O_g) @ dy (O_g, m)
                w_t = w_t_all[..., t].expand(n, -1, -1, -1).reshape(n * groups, c_g, -1)  # (n*G, C_g, O_g)
                grad_ph[rows, :, phase, offset : offset + m].baddbmm_(w_t, g[rows])
    grad_ph = grad_ph.view(b, c, n_phases, big_q) if need_x else None
    return grad_ph, (grad_w.view(weight.shape) if need_w else None)
