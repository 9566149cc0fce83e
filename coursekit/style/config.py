"""Settings of a style-transfer run (lessons 4.6 and 4.8; Gatys, Ecker & Bethge, 2015, 2016):
one frozen dataclass, validated when built, read by :func:`coursekit.style.style_transfer`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_STYLE_LAYERS", "TransferConfig"]

DEFAULT_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
"""The first ReLU of each VGG19 block (Gatys et al. 2016)."""

_OPTIMIZERS = ("lbfgs", "adam")
_INITS = ("noise", "content", "content+noise")
_PRECISIONS = ("float32", "bfloat16")


@dataclass(frozen=True)
class TransferConfig:
    """Settings of one style-transfer run.

    ``alpha`` and ``beta`` are the lecture's α = 10 and β = 40. They weigh the *relative*
    costs (``normalization="relative"`` in :mod:`coursekit.style.costs`): J_content and each
    layer's J_style are divided by their values for an all-zero G. The raw costs grow with the
    image area (J_content) and differ by orders of magnitude between layers (J_style); the
    relative ones do neither, so the same α, β give the same balance at every size and every
    layer counts as its λ says. ``tv_weight`` weighs the mean absolute difference between
    neighbouring pixels (:func:`~coursekit.style.total_variation` with ``reduction="mean"``),
    also independent of the size. ``pooling="avg"`` follows Gatys et al. (2016): smoother, less
    blotchy images than max pooling.

    Attributes:
        size: longer side (pixels) of G; the content is resized to it and each style image
            so that its longer side matches too. Ignored when ``scales`` is set.
        num_steps: optimisation steps (forward + backward passes) per scale.
        optimizer: ``"lbfgs"`` (fast convergence, the paper's choice) or ``"adam"``.
        lr: learning rate; ``None`` is 1.0 for L-BFGS and 0.02 for Adam (pixels in [0, 1]).
        alpha: weight of J_content.
        beta: weight of J_style (0 turns the style cost off: content reconstruction).
        tv_weight: weight of the total-variation smoothness term.
        init: ``"noise"`` (uniform, the lecture), ``"content"`` or ``"content+noise"``
            (``(1 - noise_ratio) * C + noise_ratio * U[0, 1]``, clipped to [0, 1]).
        noise_ratio: share of noise for ``"content+noise"``.
        content_layer: VGG19 layer of the content cost, neither too shallow nor too deep.
        style_layers: VGG19 layers of the style cost.
        style_layer_weights: λ per style layer (``None``: equal weights summing to 1).
        style_blend: weight per style image when several are given (``None``: equal);
            normalised to sum to 1.
        preserve_colors: transfer the luminance only and keep the content's colours.
        scales: coarse-to-fine sizes, e.g. ``(128, 256)``: G is optimised at each size in turn,
            upsampled between them; the last one is the output size. ``None``: ``(size,)``.
        snapshot_every: keep a copy of G every this many steps (and the initial and final G);
            0 keeps none.
        pooling: ``"max"`` or ``"avg"`` (used when no extractor is passed).
        weights: ``"imagenet"``, ``"torchvision"`` or ``"random"`` (when no extractor is passed).
        precision: ``"float32"``, or ``"bfloat16"``: VGG19's weights and activations in
            bfloat16 after the first convolution (G, that layer, the Gram matrices and the
            costs stay float32). Faster on hardware with native bfloat16 (CPUs with
            AVX512-BF16 or AMX, recent GPUs), with costs close to the float32 run's
            (``benchmarks/RESULTS_style.md``); elsewhere bfloat16 is emulated and slower
            (:func:`~coursekit.runtime.native_bfloat16` tells which; the ``coursekit style``
            command's default ``--precision auto`` uses it). Needs a
            :class:`~coursekit.style.vgg.VGG19Features` extractor.

    Example:
        >>> TransferConfig(size=128, num_steps=50).steps_total
        50
        >>> TransferConfig(scales=(64, 128), num_steps=10).steps_total
        20
        >>> TransferConfig(size=128).check((300, 400), n_styles=1)  # G's (H, W) per scale
        [(96, 128)]
    """

    size: int = 256
    num_steps: int = 300
    optimizer: str = "lbfgs"
    lr: float | None = None
    alpha: float = 10.0
    beta: float = 40.0
    tv_weight: float = 30.0
    init: str = "content"
    noise_ratio: float = 0.6
    content_layer: str = "relu4_2"
    style_layers: tuple[str, ...] = DEFAULT_STYLE_LAYERS
    style_layer_weights: tuple[float, ...] | None = None
    style_blend: tuple[float, ...] | None = None
    preserve_colors: bool = False
    scales: tuple[int, ...] | None = None
    snapshot_every: int = 0
    pooling: str = "avg"
    weights: str = "imagenet"
    precision: str = "float32"

    def __post_init__(self) -> None:
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {_OPTIMIZERS}, got {self.optimizer!r}")
        if self.precision not in _PRECISIONS:
            raise ValueError(f"precision must be one of {_PRECISIONS}, got {self.precision!r}")
        if self.init not in _INITS:
            raise ValueError(f"init must be one of {_INITS}, got {self.init!r}")
        if self.num_steps < 0 or self.snapshot_every < 0:
            raise ValueError("num_steps and snapshot_every must be >= 0")
        if min(self.alpha, self.beta, self.tv_weight) < 0:
            raise ValueError("alpha, beta and tv_weight must be >= 0")
        if not 0.0 <= self.noise_ratio <= 1.0:
            raise ValueError(f"noise_ratio must be in [0, 1], got {self.noise_ratio}")
        if isinstance(self.style_layers, str):
            object.__setattr__(self, "style_layers", (self.style_layers,))
        object.__setattr__(self, "style_layers", tuple(self.style_layers))
        if not self.style_layers:
            raise ValueError("style_layers must name at least one layer")
        lam = self.style_layer_weights
        if lam is not None:
            object.__setattr__(self, "style_layer_weights", tuple(float(v) for v in lam))
            if len(lam) != len(self.style_layers):
                raise ValueError(f"{len(lam)} style_layer_weights for {len(self.style_layers)} "
                                 "style_layers; give one λ per layer")
        if self.style_blend is not None:
            object.__setattr__(self, "style_blend", tuple(float(v) for v in self.style_blend))
            if min(self.style_blend) < 0 or sum(self.style_blend) <= 0:
                raise ValueError("style_blend weights must be >= 0 with a positive sum")
        sizes = self.sizes
        if any(not isinstance(s, int) or s < 1 for s in sizes) or list(sizes) != sorted(set(sizes)):
            raise ValueError(f"sizes must be positive ints, strictly increasing, got {sizes}")

    def check(self, image_shape: tuple[int, int], n_styles: int, *, content: bool = True
              ) -> list[tuple[int, int]]:
        """Check that this run can be made on these images; return G's ``(H, W)`` per scale.

        The one check of a run, made by :func:`~coursekit.style.style_transfer` and by the
        ``coursekit style`` command before anything is computed.

        Args:
            image_shape: ``(H, W)`` of the content image (of the first style image when there
                is no content: texture synthesis).
            n_styles: the number of style images (0: content reconstruction).
            content: whether there is a content image.

        Raises:
            ValueError: an unknown layer, a blend with the wrong number of weights, colour
                preservation without a content image, no image at all, or a size too small
                for the deepest layer (the message names the minimum).

        Example:
            >>> TransferConfig(size=64).check((40, 80), n_styles=2)
            [(32, 64)]
            >>> TransferConfig(size=8).check((40, 80), n_styles=1)
            Traceback (most recent call last):
              ...
            ValueError: size 8 is too small for layers up to relu5_1: the image would be 4x8 px, ...
        """
        from coursekit.images import fit_size
        from coursekit.style.vgg import vgg_min_size
        from coursekit.style.weights import VGG19_LAYERS

        if not content and n_styles == 0:
            raise ValueError("give a content image, a style image, or both")
        layers = [self.content_layer, *self.style_layers]
        bad = [n for n in layers if n not in VGG19_LAYERS]
        if bad:
            raise ValueError(f"unknown VGG19 layer {bad[0]!r}; valid layers are conv1_1 ... relu5_4 "
                             "and pool1 ... pool5 (e.g. relu1_1, relu4_2, relu5_1)")
        if self.style_blend is not None and n_styles and len(self.style_blend) != n_styles:
            raise ValueError(f"style_blend has {len(self.style_blend)} weights for {n_styles} "
                             "style images")
        if self.preserve_colors and not content:
            raise ValueError("preserve_colors needs a content image (its colours are kept)")
        used = ([self.content_layer] if content and self.alpha > 0 else []) + (
            list(self.style_layers) if n_styles and self.beta > 0 else [])
        shapes = [fit_size(*image_shape, s) for s in self.sizes]
        if used:
            need = vgg_min_size(used)
            h, w = shapes[0]
            if min(h, w) < need:
                raise ValueError(
                    f"size {self.sizes[0]} is too small for layers up to "
                    f"{max(used, key=VGG19_LAYERS.index)}: the image would be {h}x{w} px, and "
                    f"{need.bit_length() - 1} poolings need at least {need} px per side")
        return shapes

    @property
    def sizes(self) -> tuple[int, ...]:
        """The sizes optimised in turn: ``scales``, or ``(size,)``."""
        return tuple(self.scales) if self.scales else (self.size,)

    @property
    def steps_total(self) -> int:
        """Steps over all scales."""
        return self.num_steps * len(self.sizes)

    @property
    def layer_weights(self) -> dict[str, float]:
        """λ per style layer (equal weights summing to 1 by default)."""
        lam = self.style_layer_weights or (1.0 / len(self.style_layers),) * len(self.style_layers)
        return dict(zip(self.style_layers, lam))
