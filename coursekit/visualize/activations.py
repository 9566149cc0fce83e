"""Activations of named layers of a *feature model*, lesson 4.7's raw material.

A feature model is either

* a model called as ``model(images, layers) -> {layer: (B, C, h, w)}``, such as
  :class:`coursekit.style.VGG19Features` (layers ``"relu1_1"`` ...) or
  :class:`ModuleOutputs` (any network, probed through its own ``forward``), or
* an ``nn.Sequential`` of conv, pooling and element-wise layers, its layers named as in
  :func:`coursekit.visualize.layer_specs` (``"0"``, ``"1"``, ... or their given names).

:func:`layer_activations` runs one batch through such a model. :func:`place_model`,
:func:`eval_mode` and :func:`layer_fields` (device, eval mode, receptive-field geometry of the
requested layers) serve :mod:`coursekit.visualize.patches` and :mod:`coursekit.visualize.maximize`.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor, nn

from coursekit.runtime import get_device, module_device
from coursekit.visualize.receptive_fields import LayerField, named_layers, receptive_fields
from coursekit.visualize.vgg_fields import vgg19_layer_specs

__all__ = ["ModuleOutputs", "eval_mode", "layer_activations", "layer_fields", "place_model"]


def place_model(model, device: str | torch.device | None) -> torch.device:
    """The device a feature model runs on: ``device`` if given (the model is moved there), else
    where its tensors are (the best available device for a model without any).

    Example:
        >>> place_model(nn.Conv2d(1, 1, 3), None)
        device(type='cpu')
    """
    current = module_device(model)
    if device is None:
        return current if current is not None else get_device(None)
    dev = get_device(device)
    if current is not None and current != dev:
        model.to(dev)
    return dev


@contextlib.contextmanager
def eval_mode(model) -> Iterator[None]:
    """Run ``model`` in eval mode (batch norm with its running statistics), then restore.

    Example:
        >>> net = nn.BatchNorm2d(2)
        >>> with eval_mode(net):
        ...     net.training
        False
        >>> net.training
        True
    """
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
    named = named_layers(model)
    names = [n for n, _ in named]
    missing = [n for n in layers if n not in names]
    if missing:
        raise ValueError(f"unknown layer(s) {missing}; this nn.Sequential has {names}")
    return named[: max(names.index(n) for n in layers) + 1]


def layer_fields(model, layers: Sequence[str], size: tuple[int, int]) -> dict[str, LayerField]:
    """The receptive field of each of ``layers`` of an ``nn.Sequential`` or ``VGG19Features``
    for ``size`` = ``(H, W)`` inputs.

    Raises:
        ValueError: another kind of model (give its fields explicitly), or an unknown layer.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2))
        >>> layer_fields(net, ["2"], (10, 10))["2"].size
        (4, 4)
    """
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


class _Captured(Exception):
    """Raised by the last hook: every requested output is in, the rest of the forward is skipped."""


class ModuleOutputs(nn.Module):
    """A feature model that reads the outputs of named submodules of any network during the
    network's *own* forward pass (through forward hooks), preprocessing included.

    Probing ``model.features`` directly would skip what ``model.forward`` does to the input
    first (resizing, standardising); probing through the forward shows the units what they saw
    in training. The forward stops once the last requested output is captured.

    Args:
        model: any ``nn.Module`` whose ``forward`` takes the images.

    Shape:
        ``(images (B, C, H, W), layers)`` → ``{layer: the submodule's output}``; layer names as
        in ``model.named_modules()`` (``"features.2"``).

    Example:
        >>> net = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(1, 2, 3), nn.ReLU())
        >>> probe = ModuleOutputs(net)
        >>> {k: tuple(v.shape) for k, v in probe(torch.rand(1, 1, 8, 8), ["2"]).items()}
        {'2': (1, 2, 14, 14)}
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: Tensor, layers: Sequence[str]) -> dict[str, Tensor]:
        layers = list(layers)
        modules = dict(self.model.named_modules())
        missing = [n for n in layers if n not in modules or n == ""]
        if missing:
            raise ValueError(f"unknown submodule(s) {missing}; {type(self.model).__name__} has "
                             f"{[n for n in modules if n][:20]}")
        out: dict[str, Tensor] = {}

        def save(name, _module, _inputs, output):
            out[name] = output.clone()  # a later in-place layer must not change it
            if len(out) == len(set(layers)):
                raise _Captured

        handles = [modules[n].register_forward_hook(functools.partial(save, n)) for n in set(layers)]
        try:
            self.model(images)
        except _Captured:
            pass
        finally:
            for h in handles:
                h.remove()
        return {n: out[n] for n in layers}
