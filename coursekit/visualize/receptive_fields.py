"""Receptive fields of a sequential ConvNet, lesson 4.7 (what deep ConvNets learn).

A unit deep in a ConvNet sees only part of the input image: its *receptive field*. For a chain
of sliding-window layers (convolution or pooling) with kernel size :math:`k`, stride :math:`s`,
padding :math:`p` and dilation :math:`d`, the effective kernel is :math:`k' = d(k-1)+1` and,
layer by layer, starting from the input (:math:`r=1`, :math:`j=1`, :math:`a=0`):

.. math::

    r \\leftarrow r + (k'-1)\\,j, \\qquad a \\leftarrow a - p\\,j, \\qquad j \\leftarrow j\\,s,

where :math:`r` is the receptive-field size, :math:`j` the *jump* (the distance in input pixels
between neighbouring units) and :math:`a` the input row/column of the first pixel of unit 0's
field (negative when the field reaches into the padding). Unit :math:`i` of the layer then sees
input rows :math:`a + i j, \\dots, a + i j + r - 1` (Araujo, Norris & Sim, "Computing receptive
fields of convolutional neural networks", Distill 2019). ReLU, batch norm, dropout and other
element-wise layers leave the geometry unchanged. With dilation the field has holes; ``size``
is its extent.

* :func:`layer_specs` reads the geometry of each layer of an ``nn.Sequential`` (or a list).
* :func:`receptive_fields` applies the recurrence per axis and returns a :class:`LayerField` per
  layer: size, jump, start and output size, all exact integers.
* :func:`~coursekit.visualize.vgg_fields.vgg19_receptive_fields` does it for the named VGG19
  layers (``conv1_1`` ... ``pool5``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from torch import nn

__all__ = [
    "LayerField",
    "LayerSpec",
    "layer_specs",
    "named_layers",
    "receptive_fields",
]

Pair = tuple[int, int]

# Layers that act on each position (or each channel) separately: the geometry passes through.
_PASS_THROUGH = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
    nn.Mish, nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardswish, nn.Softplus, nn.Identity,
    nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm, nn.LocalResponseNorm,
    nn.Dropout, nn.Dropout2d,
)


def _pair(v: int | tuple[int, ...]) -> Pair:
    if isinstance(v, int):
        return (v, v)
    if len(v) != 2:
        raise ValueError(f"expected an int or a pair of ints, got {v!r}")
    return (int(v[0]), int(v[1]))


@dataclass(frozen=True)
class LayerSpec:
    """The sliding-window geometry of one layer, per axis ``(height, width)``.

    Attributes:
        name: the layer's name (``"conv1_1"``, or the index in an ``nn.Sequential``).
        kind: ``"conv"``, ``"pool"`` or ``"pointwise"`` (ReLU, batch norm, ...: kernel 1).
        kernel_size, stride, padding, dilation: as in ``nn.Conv2d``. ``padding`` is the
            number of rows/columns added before the first pixel (the top/left padding).
        ceil_mode: pooling's ``ceil_mode`` (changes only the output size).
        padding_after: rows/columns added after the last pixel (``None``: same as ``padding``;
            differs only for ``padding="same"`` with an even effective kernel).

    Example:
        >>> spec = LayerSpec.conv("conv1", 3, stride=2, padding=1, dilation=2)
        >>> spec.effective_kernel, spec.output_size((32, 32))
        ((5, 5), (15, 15))
    """

    name: str
    kind: str
    kernel_size: Pair = (1, 1)
    stride: Pair = (1, 1)
    padding: Pair = (0, 0)
    dilation: Pair = (1, 1)
    ceil_mode: bool = False
    padding_after: Pair | None = None

    @classmethod
    def conv(cls, name: str, kernel_size: int | Pair, stride: int | Pair = 1,
             padding: int | Pair = 0, dilation: int | Pair = 1) -> LayerSpec:
        """A convolution's geometry (also usable for a pooling layer: same arithmetic)."""
        return cls(name, "conv", _pair(kernel_size), _pair(stride), _pair(padding),
                   _pair(dilation))

    @property
    def effective_kernel(self) -> Pair:
        """``d * (k - 1) + 1`` per axis: the span of a dilated kernel."""
        return tuple(d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation))

    def output_size(self, input_size: Pair) -> Pair:
        """Output ``(H, W)`` of this layer for an input of ``input_size`` (PyTorch's formula)."""
        after = self.padding_after if self.padding_after is not None else self.padding
        out = []
        for n, k, s, p, q in zip(input_size, self.effective_kernel, self.stride, self.padding,
                                 after):
            span = n + p + q - k
            if span < 0:
                raise ValueError(
                    f"layer {self.name!r}: input of size {tuple(input_size)} is smaller than its "
                    f"effective kernel {self.effective_kernel} (with padding {self.padding})")
            if self.ceil_mode:
                m = math.ceil(span / s) + 1
                if (m - 1) * s >= n + p:  # the last window must start inside input or left pad
                    m -= 1
            else:
                m = span // s + 1
            out.append(m)
        return (out[0], out[1])


@dataclass(frozen=True)
class LayerField:
    """Receptive field of the units of one layer, per axis ``(height, width)``.

    Attributes:
        name, kind: as in :class:`LayerSpec`.
        size: receptive-field size in input pixels (its extent, when dilation leaves holes).
        jump: distance in input pixels between two neighbouring units (product of strides).
        start: input row and column of the top-left pixel of unit ``(0, 0)``'s field; negative
            when the field reaches into the zero padding. Unit ``(i, j)`` sees rows
            ``start[0] + i*jump[0]`` to ``start[0] + i*jump[0] + size[0] - 1`` (and likewise
            for columns).
        output_size: ``(H, W)`` of the layer's output for the given input size.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2))
        >>> field = receptive_fields(net, 12)["2"]  # the max-pool's units
        >>> field.size, field.jump, field.output_size, field.center(0, 0)
        ((4, 4), (2, 2), (5, 5), (1.5, 1.5))
    """

    name: str
    kind: str
    size: Pair
    jump: Pair
    start: Pair
    output_size: Pair

    def center(self, row: int, col: int) -> tuple[float, float]:
        """Input coordinates of the centre of unit ``(row, col)``'s field."""
        return (self.start[0] + row * self.jump[0] + (self.size[0] - 1) / 2,
                self.start[1] + col * self.jump[1] + (self.size[1] - 1) / 2)

    def box(self, row: int, col: int, input_size: int | Pair | None = None
            ) -> tuple[int, int, int, int]:
        """The input box ``(top, left, bottom, right)`` (bottom/right exclusive) unit
        ``(row, col)`` sees, clipped to an image of ``input_size`` when given.

        Example:
            >>> f = LayerField("c", "conv", size=(5, 5), jump=(2, 2), start=(-2, -2),
            ...                output_size=(4, 4))
            >>> f.box(0, 1), f.box(0, 1, input_size=8)
            ((-2, 0, 3, 5), (0, 0, 3, 5))
        """
        top = self.start[0] + row * self.jump[0]
        left = self.start[1] + col * self.jump[1]
        bottom, right = top + self.size[0], left + self.size[1]
        if input_size is not None:
            h, w = _pair(input_size)
            top, left = max(top, 0), max(left, 0)
            bottom, right = min(bottom, h), min(right, w)
        return (top, left, bottom, right)


def _module_spec(name: str, module: nn.Module) -> LayerSpec:
    if isinstance(module, nn.Conv2d):
        k, s, d = _pair(module.kernel_size), _pair(module.stride), _pair(module.dilation)
        if module.padding == "valid":
            p = q = (0, 0)
        elif module.padding == "same":
            total = [dd * (kk - 1) for kk, dd in zip(k, d)]
            p = (total[0] // 2, total[1] // 2)
            q = (total[0] - p[0], total[1] - p[1])
        else:
            p = q = _pair(module.padding)
        return LayerSpec(name, "conv", k, s, p, d, padding_after=None if p == q else q)
    if isinstance(module, nn.MaxPool2d):
        k = _pair(module.kernel_size)
        s = _pair(module.stride if module.stride is not None else module.kernel_size)
        return LayerSpec(name, "pool", k, s, _pair(module.padding), _pair(module.dilation),
                         ceil_mode=bool(module.ceil_mode))
    if isinstance(module, nn.AvgPool2d):
        k = _pair(module.kernel_size)
        s = _pair(module.stride if module.stride is not None else module.kernel_size)
        return LayerSpec(name, "pool", k, s, _pair(module.padding), (1, 1),
                         ceil_mode=bool(module.ceil_mode))
    if isinstance(module, _PASS_THROUGH):
        return LayerSpec(name, "pointwise")
    raise ValueError(
        f"layer {name!r} ({type(module).__name__}) is not a sliding-window layer; expected "
        "Conv2d, MaxPool2d, AvgPool2d or an element-wise layer (ReLU, BatchNorm2d, ...)")


def named_layers(layers: nn.Sequential | Iterable | Mapping) -> list[tuple[str, nn.Module | LayerSpec]]:
    """The layers of a sequential ConvNet as ``(name, layer)`` pairs, nested blocks flattened.

    Args:
        layers: an ``nn.Sequential`` (nested ones are flattened, names joined with dots), a
            mapping name -> module, or a list of modules, ``(name, module)`` pairs or
            :class:`LayerSpec` objects (named by their position).

    Raises:
        ValueError: another kind of ``nn.Module``.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Sequential(nn.ReLU(), nn.MaxPool2d(2)))
        >>> [name for name, _ in named_layers(net)]
        ['0', '1.0', '1.1']
    """
    if isinstance(layers, nn.Sequential):
        items = list(layers.named_children())
    elif isinstance(layers, Mapping):
        items = [(str(k), v) for k, v in layers.items()]
    elif isinstance(layers, nn.Module):
        raise ValueError(
            f"expected an nn.Sequential or a list of layers, got a {type(layers).__name__}")
    else:
        items = []
        for i, item in enumerate(layers):
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                items.append(item)
            else:
                items.append((str(i), item))
    flat: list[tuple[str, nn.Module | LayerSpec]] = []
    for name, m in items:
        if isinstance(m, nn.Sequential):  # nested blocks: flatten with dotted names
            flat.extend((f"{name}.{n}", sub) for n, sub in named_layers(m))
        else:
            flat.append((name, m))
    return flat


def layer_specs(layers: nn.Sequential | Iterable | Mapping) -> list[LayerSpec]:
    """The geometry of every layer of a sequential ConvNet.

    Args:
        layers: an ``nn.Sequential`` (nested ones are flattened, names joined with dots), a
            mapping name -> module, or a list of modules, ``(name, module)`` pairs or
            :class:`LayerSpec` objects.

    Returns:
        One :class:`LayerSpec` per layer, in order.

    Raises:
        ValueError: a layer is not a convolution, pooling or element-wise layer.

    Example:
        >>> specs = layer_specs(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
        ...                                   nn.MaxPool2d(2)))
        >>> [(s.name, s.kind, s.kernel_size, s.stride) for s in specs]
        [('0', 'conv', (3, 3), (1, 1)), ('1', 'pointwise', (1, 1), (1, 1)), ('2', 'pool', (2, 2), (2, 2))]
    """
    specs = []
    for name, m in named_layers(layers):
        specs.append(m if isinstance(m, LayerSpec) else _module_spec(name, m))
    return specs


def receptive_fields(
    layers: nn.Sequential | Iterable | Mapping, input_size: int | Pair
) -> dict[str, LayerField]:
    """Receptive-field size, jump, start and output size of every layer (exact).

    Args:
        layers: see :func:`layer_specs`.
        input_size: the input's ``H`` (and ``W``): an int for a square image or ``(H, W)``.

    Returns:
        An ordered dict layer name -> :class:`LayerField`.

    Raises:
        ValueError: an unknown layer type, or an input too small for some layer.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 3, stride=2, padding=1),
        ...                     nn.MaxPool2d(2))
        >>> for f in receptive_fields(net, 32).values():
        ...     print(f.name, f.size[0], f.jump[0], f.start[0], f.output_size[0])
        0 3 1 0 30
        1 5 2 -1 15
        2 7 4 -1 7
    """
    size = _pair(input_size)
    r, j, a = [1, 1], [1, 1], [0, 0]
    out: dict[str, LayerField] = {}
    for spec in layer_specs(layers):
        size = spec.output_size(size)
        for ax in range(2):
            r[ax] += (spec.effective_kernel[ax] - 1) * j[ax]
            a[ax] -= spec.padding[ax] * j[ax]
            j[ax] *= spec.stride[ax]
        if spec.name in out:
            raise ValueError(f"two layers are named {spec.name!r}")
        out[spec.name] = LayerField(spec.name, spec.kind, (r[0], r[1]), (j[0], j[1]),
                                    (a[0], a[1]), size)
    return out
