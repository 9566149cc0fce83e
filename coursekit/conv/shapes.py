"""Output-shape arithmetic of a convolution (lesson 4.11, and the course's earlier lessons).

Along every spatial dimension an input of size ``n``, a kernel of size ``f`` with dilation
``d``, padding ``p`` on both sides and stride ``s`` give

.. math:: n_{out} = \\left\\lfloor \\frac{n + 2p - d(f - 1) - 1}{s} \\right\\rfloor + 1,

which for ``d = 1`` is the lecture's :math:`\\lfloor (n + 2p - f)/s \\rfloor + 1`. The same
formula holds for 1-D signals (``L``), 2-D images (``H, W``) and 3-D volumes (``D, H, W``).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["conv_output_shape"]

IntOrTuple = int | Sequence[int]


def _as_tuple(value: IntOrTuple, n: int, name: str) -> tuple[int, ...]:
    """``value`` repeated to ``n`` entries (an int) or checked to have ``n`` entries (a tuple)."""
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
    sizes = _as_tuple(input_size, n_dims, "input_size")
    kernel = _as_tuple(kernel_size, n_dims, "kernel_size")
    strides = _as_tuple(stride, n_dims, "stride")
    pads = _as_tuple(padding, n_dims, "padding")
    dils = _as_tuple(dilation, n_dims, "dilation")
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
