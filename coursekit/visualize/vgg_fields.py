"""The receptive fields of VGG19's named layers (lesson 4.7): the geometry of each layer and
:func:`~coursekit.visualize.receptive_fields.receptive_fields` applied to it.
"""

from __future__ import annotations

from coursekit.visualize.receptive_fields import LayerField, LayerSpec, Pair, receptive_fields

__all__ = ["vgg19_layer_specs", "vgg19_receptive_fields"]

# VGG19's convolutional part: numbers are conv output channels, "M" a 2x2/2 pooling.
_VGG19_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
              512, 512, 512, 512, "M", 512, 512, 512, 512, "M")


def vgg19_layer_specs(*, pooling: str = "max") -> list[LayerSpec]:
    """The geometry of VGG19's named layers ``conv1_1, relu1_1, ..., relu5_4, pool5``.

    Every convolution is 3x3, stride 1, padding 1; every pooling 2x2, stride 2 (max or
    average pooling have the same geometry).

    Example:
        >>> specs = vgg19_layer_specs()
        >>> len(specs), specs[0].name, specs[4].name, specs[-1].name
        (37, 'conv1_1', 'pool1', 'pool5')
    """
    if pooling not in ("max", "avg"):
        raise ValueError(f"pooling must be 'max' or 'avg', got {pooling!r}")
    specs, block, conv = [], 1, 1
    for v in _VGG19_CFG:
        if v == "M":
            specs.append(LayerSpec(f"pool{block}", "pool", (2, 2), (2, 2)))
            block, conv = block + 1, 1
        else:
            specs.append(LayerSpec.conv(f"conv{block}_{conv}", 3, 1, 1))
            specs.append(LayerSpec(f"relu{block}_{conv}", "pointwise"))
            conv += 1
    return specs


def vgg19_receptive_fields(input_size: int | Pair = 224) -> dict[str, LayerField]:
    """:func:`receptive_fields` of VGG19's named layers (``conv1_1`` ... ``pool5``).

    Example:
        >>> rf = vgg19_receptive_fields(224)
        >>> [rf[n].size[0] for n in ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")]
        [3, 10, 24, 68, 156]
        >>> rf["pool5"].jump, rf["pool5"].output_size
        ((32, 32), (7, 7))
    """
    return receptive_fields(vgg19_layer_specs(), input_size)
