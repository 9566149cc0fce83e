"""VGG19 feature extractor (lesson 4.9; Simonyan & Zisserman, 2014; Gatys et al., 2015): the
convolutional part of VGG19 on the weights of :mod:`coursekit.style.weights`, returning named
activations for the requested layers only and stopping the forward pass at the deepest one.
Layer names are :data:`~coursekit.style.weights.VGG19_LAYERS` (``conv1_1, relu1_1, ...,
pool5``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from coursekit.runtime import get_device
from coursekit.style.weights import (
    IMAGENET_MEAN_RGB,
    IMAGENET_STD_RGB,
    VGG19_CONV_SHAPES,
    VGG19_LAYERS,
    VGG_MEAN_BGR,
    load_vgg19_weights,
)

__all__ = [
    "VGG19Features",
    "normalize_vgg19_weights",
    "vgg19_features",
    "vgg_min_size",
    "vgg_preprocess",
]


def vgg_min_size(layers: str | Iterable[str]) -> int:
    """Smallest image side (pixels) that reaches every layer in ``layers``.

    Each of the pools before a layer halves the image, so a layer after ``k`` pools needs a
    side of at least ``2**k`` (``pool{k}`` itself needs ``2**k`` too).

    Example:
        >>> vgg_min_size(["relu1_1", "relu4_2"]), vgg_min_size("pool5")
        (8, 32)
    """
    names = _check_layers(layers)
    deepest = max(VGG19_LAYERS.index(n) for n in names)
    pools = sum(1 for n in VGG19_LAYERS[: deepest + 1] if n.startswith("pool"))
    return 2**pools


def _check_layers(layers: str | Iterable[str]) -> list[str]:
    names = [layers] if isinstance(layers, str) else list(layers)
    if not names:
        raise ValueError("no layers requested; valid names: " + ", ".join(VGG19_LAYERS))
    bad = [n for n in names if n not in VGG19_LAYERS]
    if bad:
        raise ValueError(f"unknown VGG19 layer(s) {bad}; valid names: " + ", ".join(VGG19_LAYERS))
    return names


def _as_batch(image: Tensor) -> Tensor:
    if not isinstance(image, Tensor):
        raise TypeError(f"image must be a torch.Tensor, got {type(image).__name__}")
    if image.ndim not in (3, 4) or image.shape[-3] != 3:
        raise ValueError(f"expected an RGB image (3, H, W) or (B, 3, H, W), got shape {tuple(image.shape)}")
    return image.unsqueeze(0) if image.ndim == 3 else image


def vgg_preprocess(image: Tensor) -> Tensor:
    """RGB in [0, 1] -> what the original VGG weights expect: BGR, 0-255, minus the mean pixel.

    Args:
        image: ``(3, H, W)`` or ``(B, 3, H, W)``, RGB, values in [0, 1].

    Returns:
        ``(B, 3, H, W)`` (``B = 1`` for a single image), channels B, G, R, each
        ``255 * value - mean`` with mean [103.939, 116.779, 123.68].

    Example:
        >>> x = vgg_preprocess(torch.ones(3, 2, 2))
        >>> x.shape, [round(v, 3) for v in x[0, :, 0, 0].tolist()]
        (torch.Size([1, 3, 2, 2]), [151.061, 138.221, 131.32])
    """
    x = _as_batch(image)
    mean = torch.tensor(VGG_MEAN_BGR, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return x.flip(1) * 255.0 - mean


class VGG19Features(nn.Module):
    """VGG19's convolutional part, returning named activations (frozen, eval mode).

    Args:
        state: a state dict as returned by :func:`load_vgg19_weights`.
        pooling: ``"max"`` (the network as trained) or ``"avg"`` (Gatys et al. found average
            pooling gives smoother syntheses).
        preprocessing: ``"caffe"`` (BGR, 0-255, mean pixel subtracted: the ``"imagenet"`` and
            ``"random"`` weights) or ``"torchvision"`` (RGB, ImageNet mean/std).
        channels_last: keep the weights, and run the input, in channels-last (NHWC) memory
            layout. oneDNN (CPU) and cuDNN run 3x3 convolutions in that layout without the
            per-call reorders NCHW needs (faster: ``benchmarks/RESULTS_style.md``). The
            activations returned are then channels-last too (same values and shapes).

    ``net.to(torch.bfloat16)`` runs the network in bfloat16: each bfloat16 (or float16)
    convolution casts its input, so layers may mix precisions, and the activations after such a
    layer are bfloat16 (``TransferConfig(precision="bfloat16")`` runs a copy with ``conv1_1``
    kept float32; the costs accumulate in float32).

    Shape:
        - Input: ``(B, 3, H, W)`` (or ``(3, H, W)``), RGB in [0, 1].
        - Output: ``{layer: (B, C_l, H_l, W_l)}`` for the requested layers, in the order asked.

    Example:
        >>> net = vgg19_features("random", device="cpu")
        >>> out = net(torch.rand(1, 3, 32, 32), ["relu1_1", "relu3_1"])
        >>> {k: tuple(v.shape) for k, v in out.items()}
        {'relu1_1': (1, 64, 32, 32), 'relu3_1': (1, 256, 8, 8)}
    """

    def __init__(self, state: dict[str, Tensor], *, pooling: str = "max", preprocessing: str = "caffe",
                 channels_last: bool = True):
        super().__init__()
        if pooling not in ("max", "avg"):
            raise ValueError(f"pooling must be 'max' or 'avg', got {pooling!r}")
        if preprocessing not in ("caffe", "torchvision"):
            raise ValueError(f"preprocessing must be 'caffe' or 'torchvision', got {preprocessing!r}")
        self.pooling = pooling
        self.preprocessing = preprocessing
        self.convs = nn.ModuleDict(
            {name: nn.Conv2d(c_in, c_out, 3, padding=1, device="meta")  # no wasted random init
             for name, (c_in, c_out) in VGG19_CONV_SHAPES.items()}
        )
        self.convs.load_state_dict({k: v.float() for k, v in state.items()}, assign=True)
        if preprocessing == "caffe":
            scale = torch.full((3,), 255.0)
            shift = -torch.tensor(VGG_MEAN_BGR)
        else:  # (x - mean) / std, in RGB order
            scale = 1.0 / torch.tensor(IMAGENET_STD_RGB)
            shift = -torch.tensor(IMAGENET_MEAN_RGB) * scale
        self.register_buffer("_scale", scale.view(1, 3, 1, 1))
        self.register_buffer("_shift", shift.view(1, 3, 1, 1))
        self.channels_last = channels_last
        if channels_last:
            self.convs.to(memory_format=torch.channels_last)
        self.requires_grad_(False)
        self.eval()

    def preprocess(self, image: Tensor) -> Tensor:
        """RGB [0, 1] ``(B, 3, H, W)`` -> the network's input (BGR 0-255 or normalised RGB)."""
        x = _as_batch(image)
        if self.preprocessing == "caffe":
            x = x.flip(1)  # RGB -> BGR
        return x * self._scale + self._shift

    def forward(self, image: Tensor, layers: str | Iterable[str], *,
                on_layer: Callable[[str, Tensor], object] | None = None) -> dict[str, Tensor]:
        """Activations of ``layers`` (names from :data:`VGG19_LAYERS`) for an RGB image in [0, 1].

        Args:
            image: ``(B, 3, H, W)`` or ``(3, H, W)``, RGB in [0, 1].
            layers: a layer name or several.
            on_layer: called as ``on_layer(name, activation)`` as soon as each requested layer
                is computed, before the next layer runs. A cost built there joins the autograd
                graph in forward order, so the backward pass computes its gradient when it
                reaches that layer, not first, and does not hold it while the deeper layers are
                differentiated (:func:`~coursekit.style.style_transfer` does this: a lower
                memory peak, ``benchmarks/RESULTS_style.md``).

        Raises:
            ValueError: an unknown layer name (the message lists the valid ones), a badly shaped
                image, or one too small to reach the deepest layer.
        """
        names = _check_layers(layers)
        wanted = set(names)
        last = max(VGG19_LAYERS.index(n) for n in names)
        x = self.preprocess(image)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        h, w = x.shape[-2:]
        out: dict[str, Tensor] = {}
        for name in VGG19_LAYERS[: last + 1]:
            if name.startswith("conv"):
                conv = self.convs[name]
                if conv.weight.dtype in (torch.bfloat16, torch.float16):  # reduced precision
                    x = x.to(conv.weight.dtype)
                x = conv(x)
            elif name.startswith("relu"):
                # in place unless the conv output before it was asked for (saves memory)
                x = F.relu(x, inplace=f"conv{name[4:]}" not in wanted)
            else:
                if min(x.shape[-2:]) < 2:
                    raise ValueError(
                        f"image {h}x{w} is too small for layer {VGG19_LAYERS[last]}: "
                        f"needs at least {vgg_min_size(names)} pixels per side"
                    )
                pool = F.max_pool2d if self.pooling == "max" else F.avg_pool2d
                x = pool(x, kernel_size=2, stride=2)
            if name in wanted:
                out[name] = x
                if on_layer is not None:
                    on_layer(name, x)
        return {n: out[n] for n in names}


@torch.no_grad()
def normalize_vgg19_weights(state: dict[str, Tensor], images: Tensor, *, pooling: str = "max",
                            preprocessing: str = "caffe") -> dict[str, Tensor]:
    """Rescale each conv filter so its mean ReLU activation over ``images`` is 1 (Gatys et al.).

    Each layer's output channels are scaled and the next layer's weights compensate, so the
    network computes the same features up to one positive factor per channel, and the
    layers' activations, and hence their style costs, end up on comparable scales (with the raw
    Keras weights ``relu4_1``'s activations are in the thousands and ``relu5_1``'s near ten).
    Filters that (nearly) never fire on ``images`` keep their scale.

    Args:
        state: as returned by :func:`load_vgg19_weights` (not modified).
        images: calibration images ``(N, 3, H, W)``, RGB in [0, 1], ``H, W >= 16``.
        pooling, preprocessing: as for :class:`VGG19Features`.

    Returns:
        A new state dict, each tensor on its device in ``state`` (the computation runs on
        ``images``' device).

    Example:
        >>> x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
        >>> net = VGG19Features(normalize_vgg19_weights(load_vgg19_weights("random"), x))
        >>> means = net(x, "relu3_1")["relu3_1"].mean(dim=(0, 2, 3))  # per channel
        >>> torch.allclose(means[means > 1e-3], torch.ones(1), atol=1e-4)
        True
    """
    dev = images.device
    net = VGG19Features(state, pooling=pooling, preprocessing=preprocessing).to(dev)  # and its buffers
    out = {k: v.to(dev, copy=True) for k, v in state.items()}  # computed where the images are
    x = net.preprocess(images.float())
    previous = torch.ones(3, device=dev)  # the scale of each input channel of the next conv
    for name in VGG19_LAYERS:
        if name.startswith("conv"):
            out[f"{name}.weight"] /= previous.view(1, -1, 1, 1)  # undo the scaling of its inputs
            x = F.relu(F.conv2d(x, out[f"{name}.weight"], out[f"{name}.bias"], padding=1))
            mean = x.mean(dim=(0, 2, 3))  # (C,)
            live = mean > 1e-4 * mean.mean()  # near-silent filters keep their scale (no blow-up)
            previous = torch.where(live, 1.0 / mean.clamp_min(1e-12), torch.ones_like(mean))
            out[f"{name}.weight"] *= previous.view(-1, 1, 1, 1)
            out[f"{name}.bias"] *= previous
            x = x * previous.view(1, -1, 1, 1)
        elif name.startswith("pool") and name != "pool5":  # no conv after pool5
            x = (F.max_pool2d if pooling == "max" else F.avg_pool2d)(x, 2)
    return {k: v.to(state[k].device) for k, v in out.items()}


@functools.lru_cache(maxsize=2)
def _normalized_imagenet_state(pooling: str) -> dict[str, Tensor]:
    from coursekit.data.photos import sample_photos

    photos = torch.stack(list(sample_photos((128, 128)).values()))  # the 6 photos, offline
    return normalize_vgg19_weights(load_vgg19_weights("imagenet"), photos, pooling=pooling)


def vgg19_features(
    weights: str = "imagenet",
    *,
    pooling: str = "max",
    normalize: bool = False,
    device: str | torch.device | None = None,
    generator: torch.Generator | None = None,
) -> VGG19Features:
    """A frozen VGG19 feature extractor (see :class:`VGG19Features`) on ``device``.

    Args:
        weights: ``"imagenet"`` (offline, default), ``"torchvision"`` (downloads 548 MB when not
            cached) or ``"random"`` (tests only).
        pooling: ``"max"`` or ``"avg"``.
        normalize: rescale the filters so each has mean activation 1 over the course's six
            photos (:func:`normalize_vgg19_weights`; computed once per process for
            ``"imagenet"``), so that equal style-layer weights weigh the layers equally.
        device: where the network lives; ``None`` or ``"auto"`` picks cuda, mps, then cpu. On
            cpu and cuda the network runs channels-last (see :class:`VGG19Features`).
        generator: seeds the ``"random"`` weights.

    Example:
        >>> net = vgg19_features(device="cpu")
        >>> feats = net(torch.rand(1, 3, 64, 64), "relu4_2")
        >>> tuple(feats["relu4_2"].shape)
        (1, 512, 8, 8)
    """
    prep = "torchvision" if weights == "torchvision" else "caffe"
    if normalize and weights == "imagenet" and pooling in ("max", "avg"):
        state = {k: v.clone() for k, v in _normalized_imagenet_state(pooling).items()}
    else:
        state = load_vgg19_weights(weights, generator=generator)
        if normalize:
            from coursekit.data.photos import sample_photos

            photos = torch.stack(list(sample_photos((128, 128)).values()))
            state = normalize_vgg19_weights(state, photos, pooling=pooling, preprocessing=prep)
    device = get_device(device)
    channels_last = device.type in ("cpu", "cuda")  # oneDNN, cuDNN; MPS keeps the default layout
    return VGG19Features(state, pooling=pooling, preprocessing=prep, channels_last=channels_last).to(device)
