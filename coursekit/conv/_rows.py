"""Private helper of :func:`coursekit.conv.convnd`: the CPU forward as im2col *rows* and one product.

On the CPU the forward pass gathers, for every output position, the input values its receptive
field covers into one row of a column matrix (*im2col*), and multiplies the rows by the filters
in one matrix product per chunk of rows:

.. math:: y[r, o] = \\sum_{t, c} \\mathrm{cols}[r, (t, c)] \\; W[o, c, t],
          \\qquad \\mathrm{cols}[r, (t, c)] = x_{cl}[\\mathrm{row}(r) + \\mathrm{offset}_t, c].

The input is laid out channels-last, as a table of rows (B, G, P, Q, C_g) -> (rows, C_g), so that
the ``k`` taps of the last kernel axis (stride 1, dilation 1) read ``k`` consecutive rows: one
contiguous run of ``k * C_g`` values, which a single ``index_select`` copies for all positions at
once (9 runs per row for a 3x3x3 kernel instead of 27). Rows are gathered only for real output
positions, a few MiB at a time into reused buffers, and the products write the output
channels-last, (positions, C_out), then one copy gives the standard (B, C_out, *S_out) layout.
Where torch has it, the product runs in oneDNN's inner-product kernel, reached through the
private ``torch.ops.mkldnn._linear_pointwise`` (what ``torch.compile`` emits for frozen linear
layers), and only after :func:`onednn_linear_works` has checked it on a probe product; else ``@``.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from coursekit.conv._taps import phase_split, tap_table

__all__: list[str] = []  # private module: nothing re-exported

_CHUNK_BYTES = 4 * 2**20  # columns gathered per product (benchmarks/RESULTS_conv.md)
_MIN_CHANNELS = 4  # fewer input channels: the tap loop's own im2col is faster


def use_rows(x: torch.Tensor, weight: torch.Tensor, groups: int) -> bool:
    """Whether :func:`rows_forward` is the faster forward: on the CPU, one group, ``C >= 4``
    (benchmarks/RESULTS_conv.md: with groups or few input channels the tap loop wins)."""
    return x.device.type == "cpu" and groups == 1 and weight.shape[1] >= _MIN_CHANNELS


@functools.cache
def onednn_linear_works(dtype: torch.dtype) -> bool:
    """Whether oneDNN's inner product (a private torch op) exists here and computes a probe
    product of ``dtype`` on the CPU like ``@``; any error or mismatch means no."""
    op = getattr(torch.ops.mkldnn, "_linear_pointwise", None)
    if op is None or not torch.backends.mkldnn.is_available():
        return False
    g = torch.Generator().manual_seed(0)
    cols, w = torch.randn(7, 24, generator=g).to(dtype), torch.randn(5, 24, generator=g).to(dtype)
    try:
        out = op(cols, w, None, "none", [], "")
    except (RuntimeError, NotImplementedError, TypeError):  # a build or CPU without that kernel
        return False
    expected = (cols.float() @ w.float().t()).to(dtype)
    return out.shape == expected.shape and bool(torch.allclose(out, expected, rtol=2e-2, atol=2e-2))


def _product(cols: torch.Tensor, w_rows: torch.Tensor) -> torch.Tensor:
    """``cols (R, K) @ w_rows (O, K)ᵀ`` -> (R, O), in oneDNN's inner product where it works."""
    # why the private op: on AMD CPUs MKL's sgemm (torch's @) takes a slower path for these thin products
    if cols.device.type == "cpu" and cols.dtype in (torch.float32, torch.bfloat16) \
            and onednn_linear_works(cols.dtype):
        return torch.ops.mkldnn._linear_pointwise(cols, w_rows, None, "none", [], "")
    return cols @ w_rows.t()


def _run_length(taps, last_kernel: int) -> int:
    """How many taps of the last kernel axis read consecutive rows: ``last_kernel`` or 1."""
    for start in range(0, len(taps), last_kernel):
        block = taps[start:start + last_kernel]
        if any(b != (block[0][0], block[0][1] + i) for i, b in enumerate(block)):
            return 1
    return last_kernel


def _row_table(x: torch.Tensor, pads, strides, groups: int) -> tuple[torch.Tensor, list[int]]:
    """The padded input as rows of channels, (B, G, P, Q, C_g) (the stride phases of
    :func:`coursekit.conv._taps.phase_split`, channels last), and the phase grid ``q``."""
    b, c = x.shape[:2]
    if any(s != 1 for s in strides):
        phases, q = phase_split(x, pads, strides)  # (B, C, P, Q)
        table = phases.view(b, groups, c // groups, *phases.shape[2:]).permute(0, 1, 3, 4, 2)
        return table.contiguous(), q
    n = x.dim() - 2
    x_cl = x.reshape(b, groups, c // groups, *x.shape[2:]).movedim(2, -1)  # (B, G, *S, C_g), a view
    pad = [amount for p in reversed(pads) for amount in (p, p)]
    table = F.pad(x_cl, [0, 0, *pad]) if any(pads) else x_cl  # (B, G, *S_pad, C_g)
    q = list(table.shape[2:2 + n])
    return table.reshape(b, groups, 1, math.prod(q), c // groups), q


def rows_forward(x: torch.Tensor, weight: torch.Tensor, strides, pads, dils, groups: int,
                 out_sizes) -> torch.Tensor:
    """The convolution of ``x`` (B, C, *S) with ``weight`` (C_out, C/G, *K): a contiguous
    (B, C_out, *S_out); no autograd."""
    table, q = _row_table(x, pads, strides, groups)  # (B, G, P, Q, C_g)
    b, _, n_phases, big_q, c_g = table.shape
    taps, _, q_strides = tap_table(weight.shape[2:], strides, dils, q, out_sizes)
    c_out = weight.shape[0]
    o_g, n_taps = c_out // groups, len(taps)
    run = _run_length(taps, weight.shape[-1])
    n_rows = table.numel() // c_g
    windows = table.reshape(-1).as_strided((n_rows - run + 1, run * c_g), (c_g, 1))  # overlapping
    # first row each output position reads: (S_out,) flat grid offsets, then per (sample, group)
    grid = torch.zeros((), dtype=torch.long, device=x.device)
    for size, qs in zip(out_sizes, q_strides):
        grid = (grid.unsqueeze(-1) + torch.arange(size, device=x.device) * qs)
    grid = grid.reshape(-1, 1)  # (M, 1)
    starts = torch.tensor([p * big_q + o for p, o in taps[::run]], device=x.device)  # (K/run,)
    # filters with the columns' (tap, channel) order: (G, O_g, K * C_g)
    w_rows = weight.reshape(groups, o_g, c_g, n_taps).transpose(2, 3).reshape(groups, o_g, n_taps * c_g)
    n_pos = grid.shape[0]
    y = x.new_empty(groups, b * n_pos, o_g)  # channels last, one block per group
    step = min(b * n_pos, max(1, _CHUNK_BYTES // (n_taps * c_g * x.element_size())))  # rows/product
    idx = starts.new_empty(step, starts.numel())  # reused buffers: fresh ones cost page faults
    cols = x.new_empty(step * starts.numel(), run * c_g)
    samples = torch.arange(b, device=x.device).view(-1, 1, 1) * (groups * n_phases * big_q)
    for g in range(groups):
        first = (samples + grid + g * n_phases * big_q).view(-1, 1)  # (B * M, 1)
        for r0 in range(0, b * n_pos, step):
            n = min(step, b * n_pos - r0)
            torch.add(first[r0:r0 + n], starts, out=idx[:n])  # (n, K/run) first rows of the runs
            torch.index_select(windows, 0, idx[:n].view(-1), out=cols[:n * starts.numel()])
            y[g, r0:r0 + n] = _product(cols[:n * starts.numel()].view(n, -1), w_rows[g])  # (n, O_g)
    y = y.view(groups, b, n_pos, o_g)
    return y.permute(1, 0, 3, 2).reshape(b, c_out, *out_sizes).contiguous()  # (B, C_out, *S_out)
