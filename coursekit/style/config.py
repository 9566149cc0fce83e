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

    Why ``alpha=1, beta=40`` and not the lecture's 10 and 40: with the lecture's normalisations
    the raw costs live on very different scales. On the ImageNet VGG19 (0-255 inputs) the
    content cost ½‖a_C − a_G‖² at ``relu4_2`` of a 256-px image is of order 1e9-1e10 once G
    leaves C, while J_style (five layers, each divided by (2 n_H n_W n_C)²) is of order
    1e7-1e8. Per unit weight and per pixel, ∂J_content/∂G is ~50x ∂J_style/∂G at 256 px
    (average pooling), so α/β = 10/40 leaves the photo barely touched; α/β = 1/40 balances the
    two gradients and paints the style's strokes and colours over the photo's layout
    (checked by eye on Chelsea x The Starry Night). J_content sums over positions while J_style
    is normalised per position, so the balance depends on the image area: at ``size`` s use
    about ``beta = 40 * (s / 256)**2`` for the same look. ``pooling="avg"`` follows Gatys et
    al. (2016): smoother, less blotchy images than max pooling, most visibly at small sizes.

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
        content_normalization: ``"lecture"`` (½‖·‖²) or ``"assignment"`` (1/(4 n_H n_W n_C)).
        preserve_colors: transfer the luminance only and keep the content's colours.
        scales: coarse-to-fine sizes, e.g. ``(128, 256)``: G is optimised at each size in turn,
            upsampled between them; the last one is the output size. ``None``: ``(size,)``.
        snapshot_every: keep a copy of G every this many steps (and the initial and final G);
            0 keeps none.
        pooling: ``"max"`` or ``"avg"`` (used when no extractor is passed).
        weights: ``"imagenet"``, ``"torchvision"`` or ``"random"`` (when no extractor is passed).
        precision: ``"float32"``, or ``"bfloat16"``: VGG19's weights and activations in
            bfloat16 after the first convolution (G, that layer, the Gram matrices and the
            costs stay float32). On hardware with native bfloat16 (CPUs with AVX512-BF16 or
            AMX, recent GPUs) a step takes about 0.6x the float32 time and the costs follow the
            float32 run's within ~1% (``benchmarks/RESULTS_style.md``); elsewhere bfloat16 is
            emulated and slower (:func:`~coursekit.runtime.native_bfloat16` tells which; the
            ``coursekit style`` command's default ``--precision auto`` uses it). Needs a
            :class:`~coursekit.style.vgg.VGG19Features` extractor.

    Example:
        >>> TransferConfig(size=128, num_steps=50).steps_total
        50
        >>> TransferConfig(scales=(64, 128), num_steps=10).steps_total
        20
    """

    size: int = 256
    num_steps: int = 300
    optimizer: str = "lbfgs"
    lr: float | None = None
    alpha: float = 1.0
    beta: float = 40.0
    tv_weight: float = 0.0
    init: str = "content"
    noise_ratio: float = 0.6
    content_layer: str = "relu4_2"
    style_layers: tuple[str, ...] = DEFAULT_STYLE_LAYERS
    style_layer_weights: tuple[float, ...] | None = None
    style_blend: tuple[float, ...] | None = None
    content_normalization: str = "lecture"
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
        if self.content_normalization not in ("lecture", "assignment"):
            raise ValueError("content_normalization must be 'lecture' or 'assignment', "
                             f"got {self.content_normalization!r}")
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
