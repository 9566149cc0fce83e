"""Activations of named layers of a *feature model*, lesson 4.7's raw material.

A feature model is either

* a model called as ``model(images, layers) -> {layer: (B, C, h, w)}``, such as
  :class:`coursekit.style.VGG19Features` (layers ``"relu1_1"`` ...), or
* an ``nn.Sequential`` of conv, pooling and element-wise layers, its layers named as in
  :func:`coursekit.visualize.layer_specs` (``"0"``, ``"1"``, ... or their given names).

:func:`layer_activations` runs one batch through such a model; the private helpers here (device,
eval mode, receptive-field geometry of the requested layers) are shared by
:mod:`coursekit.visualize.patches` and :mod:`coursekit.visualize.maximize`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor, nn

from coursekit.runtime import get_device
from coursekit.visualize.receptive_fields import LayerField, _named_modules, receptive_fields
from coursekit.visualize.vgg_fields import vgg19_layer_specs

__all__ = ["layer_activations"]


def _resolve_device(model, device: str | torch.device | None) -> torch.device:
    """``device`` if given (the model is moved there), else where the model's tensors are."""
    current = None
    if isinstance(model, nn.Module):
        current = next(iter([*model.parameters(), *model.buffers()]), None)
        current = None if current is None else current.device
    if device is None:
        return current if current is not None else get_device(None)
    dev = get_device(device)
    if current is not None and current != dev:
        model.to(dev)
    return dev


@contextlib.contextmanager
def _eval_mode(model) -> Iterator[None]:
    """Run ``model`` in eval mode (batch norm with its running statistics), then restore."""
    was_training = isinstance(model, nn.Module) and model.training
    if isinstance(model, nn.Module):
        model.eval()
    try:
        yield
    finally:
        if was_training:
            model.train()


def _is_vgg(model) -> bool:
    from coursekit.style.vgg import VGG19Features  # late import: visualize need not load style

    return isinstance(model, VGG19Features)


def _prefix(model: nn.Sequential, layers: Sequence[str]) -> list[tuple[str, nn.Module]]:
    """The (flattened) named layers of ``model`` up to the deepest of ``layers``."""
    named = _named_modules(model)
    names = [n for n, _ in named]
    missing = [n for n in layers if n not in names]
    if missing:
        raise ValueError(f"unknown layer(s) {missing}; this nn.Sequential has {names}")
    return named[: max(names.index(n) for n in layers) + 1]


def _layer_geometry(model, layers: Sequence[str], size: tuple[int, int]) -> dict[str, LayerField]:
    if isinstance(model, nn.Sequential):
        fields = receptive_fields(_prefix(model, layers), size)
    elif _is_vgg(model):
        fields = receptive_fields(vgg19_layer_specs(pooling=model.pooling), size)
    else:
        raise ValueError(
            f"cannot work out the receptive fields of a {type(model).__name__}: pass fields= "
            "(layer -> LayerField), or use an nn.Sequential or a VGG19Features model")
    return {n: fields[n] for n in layers}


def layer_activations(model, images: Tensor, layers: Sequence[str]) -> dict[str, Tensor]:
    """Activations of ``layers`` for a batch, from a feature model (see the module docstring).

    Args:
        model: a feature model.
        images: ``(B, C, H, W)``.
        layers: layer names.

    Returns:
        ``{layer: (B, C_l, H_l, W_l)}``.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2))
        >>> out = layer_activations(net, torch.rand(2, 3, 10, 10), ["1", "2"])
        >>> {k: tuple(v.shape) for k, v in out.items()}
        {'1': (2, 4, 8, 8), '2': (2, 4, 4, 4)}
    """
    layers = list(layers)
    if not isinstance(model, nn.Sequential):
        return dict(model(images, layers))
    prefix = _prefix(model, layers)
    out, x = {}, images
    for i, (name, module) in enumerate(prefix):
        x = module(x)
        if name in layers:
            # a later in-place layer (ReLU(inplace=True)) would overwrite it: keep a copy
            out[name] = x if i == len(prefix) - 1 else x.clone()
    return {n: out[n] for n in layers}
