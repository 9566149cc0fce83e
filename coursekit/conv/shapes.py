"""Output-shape arithmetic of a convolution (lesson 4.11, and the course's earlier lessons).

Along every spatial dimension an input of size ``n``, a kernel of size ``f`` with dilation
``d``, padding ``p`` on both sides and stride ``s`` give

.. math:: n_{out} = \\left\\lfloor \\frac{n + 2p - d(f - 1) - 1}{s} \\right\\rfloor + 1,

which for ``d = 1`` is the lecture's :math:`\\lfloor (n + 2p - f)/s \\rfloor + 1`. The same
formula holds for 1-D signals (``L``), 2-D images (``H, W``) and 3-D volumes (``D, H, W``).
:func:`check_conv_args` validates a whole convolution call (ranks, channels, groups, dtypes,
devices and sizes) for :func:`coursekit.conv.convnd` and :func:`coursekit.conv.convnd_naive`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["IntOrTuple", "as_tuple", "check_conv_args", "conv_output_shape"]

IntOrTuple = int | Sequence[int]


def as_tuple(value: IntOrTuple, n: int, name: str) -> tuple[int, ...]:
    """``value`` repeated to ``n`` entries (an int) or checked to have ``n`` entries (a tuple).

    Args:
        value: an int, or a sequence of ``n`` ints.
        n: the number of spatial dimensions.
        name: the argument's name, for the error message.

    Raises:
        ValueError: a bool, a non-int, or a sequence of the wrong length (naming ``name``).

    Example:
        >>> as_tuple(2, 3, "stride"), as_tuple((1, 2), 2, "padding")
        ((2, 2, 2), (1, 2))
    """
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an int or a tuple of ints, got {value!r}")
    if isinstance(value, int):
        return (value,) * n
    try:
        out = tuple(value)
    except TypeError as err:
        raise ValueError(f"{name} must be an int or a tuple of ints, got {value!r}") from err
    if len(out) != n or not all(isinstance(v, int) and not isinstance(v, bool) for v in out):
        raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {value!r}")
    return out


def _spatial_dims(*values: IntOrTuple) -> int:
    """The number of spatial dimensions implied by the tuple-valued arguments (1 if all ints)."""
    lengths = {len(v) for v in values if isinstance(v, Sequence)}
    if len(lengths) > 1:
        raise ValueError(f"tuple arguments disagree on the number of spatial dimensions: {values}")
    return lengths.pop() if lengths else 1


def conv_output_shape(
    input_size: IntOrTuple,
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
) -> int | tuple[int, ...]:
    """Spatial output size of a convolution, ⌊(n + 2p − d(f − 1) − 1)/s⌋ + 1 per dimension.

    Args:
        input_size: ``n``, an int (one dimension) or a tuple such as ``(H, W)`` or ``(D, H, W)``.
        kernel_size: ``f``, an int (the same along every dimension) or a tuple.
        stride: ``s`` ≥ 1.
        padding: ``p`` ≥ 0 zeros added on both sides.
        dilation: ``d`` ≥ 1, the spacing between kernel taps.

    Returns:
        An int when every argument is an int, else a tuple with one size per dimension.

    Raises:
        ValueError: a non-positive size, stride or dilation, a negative padding, tuples of
            different lengths, or a kernel that does not fit in the padded input.

    Example:
        >>> conv_output_shape(14, 5)                      # the lecture's ECG: 14 -> 10
        10
        >>> conv_output_shape((14, 14, 14), 5)            # the lecture's CT volume
        (10, 10, 10)
        >>> conv_output_shape((7, 7), 3, stride=2, padding=1)
        (4, 4)
    """
    scalar = all(isinstance(v, int) for v in (input_size, kernel_size, stride, padding, dilation))
    n_dims = _spatial_dims(input_size, kernel_size, stride, padding, dilation)
    sizes = as_tuple(input_size, n_dims, "input_size")
    kernel = as_tuple(kernel_size, n_dims, "kernel_size")
    strides = as_tuple(stride, n_dims, "stride")
    pads = as_tuple(padding, n_dims, "padding")
    dils = as_tuple(dilation, n_dims, "dilation")
    for name, vals, low in (("input_size", sizes, 1), ("kernel_size", kernel, 1),
                            ("stride", strides, 1), ("dilation", dils, 1), ("padding", pads, 0)):
        if any(v < low for v in vals):
            raise ValueError(f"{name} must be >= {low} in every dimension, got {vals}")
    out = []
    for i, (n, f, s, p, d) in enumerate(zip(sizes, kernel, strides, pads, dils)):
        span = d * (f - 1) + 1  # the dilated kernel's extent
        if span > n + 2 * p:
            raise ValueError(
                f"kernel larger than the padded input in dimension {i}: dilated kernel size "
                f"{span} (kernel {f}, dilation {d}) > input {n} + 2*padding {p} = {n + 2 * p}"
            )
        out.append((n + 2 * p - span) // s + 1)
    return out[0] if scalar else tuple(out)


def check_conv_args(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: IntOrTuple,
    padding: IntOrTuple,
    dilation: IntOrTuple,
    groups: int,
) -> tuple[int, tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Validate the arguments of a convolution; return ``(n_dims, stride, padding, dilation)``.

    Args:
        x: input (B, C, *S) with 1 to 3 spatial dims.
        weight: filters (C_out, C/groups, *K).
        bias: None or (C_out,).
        stride, padding, dilation: an int or one per spatial dim.
        groups: a positive int dividing C and C_out.

    Returns:
        The number of spatial dims and the three per-dimension tuples.

    Raises:
        ValueError: wrong rank, channel mismatch, groups not dividing the channels, bad bias
            shape, tensors of different dtypes or devices, or a kernel larger than the padded
            input; the message names the shapes (and dtypes or devices).

    Example:
        >>> check_conv_args(torch.zeros(1, 3, 8, 8), torch.zeros(4, 3, 3, 3), None, 2, 1, 1, 1)
        (2, (2, 2), (1, 1), (1, 1))
        >>> check_conv_args(torch.zeros(1, 3, 8, dtype=torch.float64), torch.zeros(4, 3, 3),
        ...                 None, 1, 0, 1, 1)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: dtype mismatch: x (1, 3, 8) is torch.float64 but weight (4, 3, 3) is ...
    """
    if not isinstance(x, torch.Tensor) or not isinstance(weight, torch.Tensor):
        raise ValueError(f"x and weight must be torch tensors, got {type(x).__name__} and "
                         f"{type(weight).__name__}")
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
    tensors = [("x", x), ("weight", weight)] + ([("bias", bias)] if isinstance(bias, torch.Tensor) else [])
    for name, t in tensors[1:]:
        if t.dtype != x.dtype:
            raise ValueError(
                f"dtype mismatch: x {tuple(x.shape)} is {x.dtype} but {name} {tuple(t.shape)} is "
                f"{t.dtype}; convert one, e.g. {name}.to(x.dtype)")
        if t.device != x.device:
            raise ValueError(
                f"device mismatch: x {tuple(x.shape)} is on {x.device} but {name} "
                f"{tuple(t.shape)} is on {t.device}; move one, e.g. {name}.to(x.device)")
    if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1:
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
    if bias is not None and (not isinstance(bias, torch.Tensor) or tuple(bias.shape) != (c_out,)):
        got = tuple(bias.shape) if isinstance(bias, torch.Tensor) else type(bias).__name__
        raise ValueError(f"bias must have shape ({c_out},), got {got}")
    strides = as_tuple(stride, n, "stride")
    pads = as_tuple(padding, n, "padding")
    dils = as_tuple(dilation, n, "dilation")
    try:
        conv_output_shape(tuple(x.shape[2:]), tuple(weight.shape[2:]), strides, pads, dils)
    except ValueError as err:
        raise ValueError(f"x {tuple(x.shape)}, weight {tuple(weight.shape)}: {err}") from None
    return n, strides, pads, dils
