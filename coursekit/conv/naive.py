"""The loop version of convolution, for teaching (lesson 4.11).

One Python loop step per output position: take the receptive-field window of the padded input,
multiply it element-wise by each filter and sum. It is the lecture's picture of a filter
sliding over a signal, an image or a volume, and it is very slow: use it on tiny inputs only and
compare it with :func:`coursekit.conv.convnd`.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

from coursekit.conv.shapes import IntOrTuple, check_conv_args

__all__ = ["convnd_naive"]


def convnd_naive(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
) -> torch.Tensor:
    """Cross-correlate ``x`` with ``weight`` by looping over output positions and filters.

    Args:
        x: input (B, C, L), (B, C, H, W) or (B, C, D, H, W).
        weight: filters (C_out, C, *K).
        bias: optional (C_out,).
        stride: an int or one per spatial dim.
        padding: zeros on both sides, an int or one per spatial dim.

    Returns:
        (B, C_out, *S_out), the same as :func:`coursekit.conv.convnd` (slowly).

    Raises:
        ValueError: as :func:`coursekit.conv.convnd`.

    Example:
        >>> x = torch.tensor([[[1., 2., 3., 4., 5.]]])   # (B=1, C=1, L=5)
        >>> w = torch.tensor([[[1., 0., -1.]]])          # (C_out=1, C=1, K=3)
        >>> convnd_naive(x, w)
        tensor([[[-2., -2., -2.]]])
    """
    n, strides, pads, _ = check_conv_args(x, weight, bias, stride, padding, 1, 1)
    if any(pads):
        x = F.pad(x, [p for p in reversed(pads) for _ in range(2)])
    kernel = weight.shape[2:]
    out_sizes = [(size - k) // s + 1 for size, k, s in zip(x.shape[2:], kernel, strides)]
    out = x.new_zeros(x.shape[0], weight.shape[0], *out_sizes)
    for position in itertools.product(*(range(size) for size in out_sizes)):
        window = tuple(slice(i * s, i * s + k) for i, s, k in zip(position, strides, kernel))
        patch = x[(slice(None), slice(None), *window)]  # (B, C, *K)
        for o in range(weight.shape[0]):
            value = (patch * weight[o]).flatten(1).sum(dim=1)  # (B,)
            out[(slice(None), o, *position)] = value if bias is None else value + bias[o]
    return out
