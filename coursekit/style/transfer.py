"""The neural style transfer loop, lessons 4.6 and 4.8 (Gatys, Ecker & Bethge, "A Neural
Algorithm of Artistic Style", 2015; "Image Style Transfer Using Convolutional Neural Networks",
CVPR 2016).

Gradient descent on the pixels of the generated image G minimises

    J(G) = alpha * J_content(C, G) + beta * J_style(S, G) + tv_weight * TV(G)

with the costs of :mod:`coursekit.style.costs` on VGG19 activations
(:func:`~coursekit.style.vgg.vgg19_features`). The content and style targets are computed once,
without gradients; one *step* is one forward and backward pass (for L-BFGS too, so step counts
and timings compare across optimisers); G is clamped to [0, 1] after every step.

Special cases used by the notebooks: ``content=None`` is texture synthesis (the style cost
alone), ``style=None`` or ``beta=0`` is content reconstruction (the content cost alone).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from coursekit.runtime import get_device
from coursekit.style.color import match_luminance, rgb_to_yiq, yiq_to_rgb
from coursekit.style.costs import GramTarget, content_cost, gram_target, style_cost, total_variation
from coursekit.style.vgg import vgg19_features

__all__ = ["DEFAULT_STYLE_LAYERS", "TransferConfig", "TransferResult", "style_transfer"]

DEFAULT_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
"""The first ReLU of each VGG19 block (Gatys et al. 2016)."""

_OPTIMIZERS = ("lbfgs", "adam")
_INITS = ("noise", "content", "content+noise")
_DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}


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

    def __post_init__(self) -> None:
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {_OPTIMIZERS}, got {self.optimizer!r}")
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


@dataclass
class TransferResult:
    """What :func:`style_transfer` returns.

    Attributes:
        image: ``(3, H, W)`` the final G in [0, 1], on the input's device.
        history: per step, lists ``"content"`` (raw J_content), ``"style"`` (raw J_style),
            ``"tv"`` and ``"total"`` (the weighted sum that was minimised). A term that is off
            (no content image, or ``beta=0``/no style) has an empty list.
        snapshots: ``(step, image (3, H, W))`` pairs, from step 0 (the initial G) on.
    """

    image: Tensor
    history: dict[str, list[float]] = field(default_factory=dict)
    snapshots: list[tuple[int, Tensor]] = field(default_factory=list)


def _fit(h: int, w: int, size: int) -> tuple[int, int]:
    """(H, W) scaled so that the longer side is ``size``."""
    scale = size / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def _resize(image: Tensor, size: int | tuple[int, int]) -> Tensor:
    """``(3, H, W)`` -> longer side ``size`` (int) or exactly ``(H, W)``, antialiased."""
    h, w = image.shape[-2:]
    if isinstance(size, int):
        size = _fit(h, w, size)
    if tuple(size) == (h, w):
        return image
    return F.interpolate(image[None], size=size, mode="bilinear", align_corners=False,
                         antialias=True)[0].clamp(0.0, 1.0)


def _check_rgb(image: Tensor, name: str) -> Tensor:
    if not isinstance(image, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(image).__name__}")
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"{name} must be an RGB image (3, H, W), got shape {tuple(image.shape)}")
    return image


class _Objective:
    """The cost J(G) at one scale, with its targets computed once under ``no_grad``.

    Calling it returns ``(J / J_0, raw terms)``: the optimiser sees the cost divided by its first
    value. With the 0-255 VGG inputs J_0 is ~1e13, and L-BFGS's first step (1 / ‖∇J‖₁) is then
    too small for float32 to register, so its curvature estimate is noise and the run diverges;
    the constant factor changes nothing else.
    """

    def __init__(self, extractor, content, styles, blend, config, shape):
        self.extractor, self.config = extractor, config
        self.use_content = content is not None and config.alpha > 0
        self.use_style = bool(styles) and config.beta > 0
        self.layer_weights = config.layer_weights if self.use_style else {}
        self.layers = ([config.content_layer] if self.use_content else []) + [
            n for n in self.layer_weights if n != config.content_layer or not self.use_content]
        self.scale: float | None = None
        self.targets: dict[str, GramTarget] = {}
        self.offsets: dict[str, float] = {}
        with torch.no_grad():
            if self.use_content:
                c = _resize(content, shape)
                self.a_C = extractor(c[None], [config.content_layer])[config.content_layer]
            if self.use_style:
                # Σ_k w_k ‖g − g_k‖² = ‖g − Σ_k w_k g_k‖² + offset (Σ w_k = 1): the blended
                # target needs one comparison per layer, and the offset keeps J_style exact
                grams: dict[str, Tensor] = {}
                for s, w in zip(styles, blend):
                    feats = extractor(_resize(s, max(shape))[None], list(self.layer_weights))
                    for name, a in feats.items():
                        t = gram_target(a)
                        g = (t.gram / t.positions).double()  # (1, C, C)
                        grams[name] = grams.get(name, 0) + w * g
                        self.offsets[name] = self.offsets.get(name, 0.0) + w * g.square().sum().item()
                for name, g in grams.items():
                    c = g.shape[-1]
                    self.offsets[name] = (self.offsets[name] - g.square().sum().item()) / (4 * c * c)
                    self.targets[name] = GramTarget(g.float(), 1)

    def __call__(self, G: Tensor) -> tuple[Tensor, dict[str, float]]:
        feats = self.extractor(G, self.layers) if self.layers else {}
        cfg, terms = self.config, {}
        total = G.new_zeros(())
        if self.use_content:
            j_c = content_cost(self.a_C, feats[cfg.content_layer],
                               normalization=cfg.content_normalization)
            total = total + cfg.alpha * j_c
            terms["content"] = j_c.item()
        if self.use_style:
            j_s = style_cost(self.targets, feats, self.layer_weights)
            total = total + cfg.beta * j_s
            offset = sum(lam * self.offsets[n] for n, lam in self.layer_weights.items())
            terms["style"] = j_s.item() + offset
        if cfg.tv_weight > 0:
            tv = total_variation(G)
            total = total + cfg.tv_weight * tv
        else:  # reported, but off the graph
            with torch.no_grad():
                tv = total_variation(G)
        terms["tv"] = tv.item()
        terms["total"] = total.item()
        if self.scale is None:  # the first value; see the class docstring
            self.scale = terms["total"] if terms["total"] > 0 else 1.0
        return total / self.scale, terms


def _closure(opt: torch.optim.Optimizer, objective: _Objective, G: Tensor, terms: dict):
    """One forward and backward pass; the cost terms land in ``terms``."""

    def closure() -> Tensor:
        opt.zero_grad(set_to_none=True)
        loss, t = objective(G)
        loss.backward()
        terms.update(t)
        return loss

    return closure


def _recolor(luminance: Tensor, content: Tensor) -> Tensor:
    """G's luminance Y with the content's chrominance I, Q (colour preservation)."""
    iq = rgb_to_yiq(_resize(content, tuple(luminance.shape[-2:])))[1:]
    return yiq_to_rgb(torch.cat([rgb_to_yiq(luminance)[:1], iq])).clamp(0.0, 1.0)


def _initial_image(content, shape, config, device, generator) -> Tensor:
    if config.init == "noise" or content is None:
        return torch.rand((1, 3, *shape), generator=generator).to(device)
    c = _resize(content, shape)[None]
    if config.init == "content":
        return c.clone()
    noise = torch.rand(c.shape, generator=generator).to(device)
    return ((1.0 - config.noise_ratio) * c + config.noise_ratio * noise).clamp(0.0, 1.0)


def style_transfer(
    content: Tensor | None,
    style: Tensor | Sequence[Tensor] | None,
    config: TransferConfig = TransferConfig(),
    *,
    extractor=None,
    device: str | torch.device | None = None,
    generator: torch.Generator | None = None,
    progress: bool = True,
) -> TransferResult:
    """Paint ``content`` in the style of ``style`` by gradient descent on the pixels of G.

    Args:
        content: ``(3, H, W)`` RGB in [0, 1], or ``None`` for texture synthesis (the style cost
            alone; G is ``config.size`` on its longer side with the first style's aspect ratio).
        style: ``(3, H, W)`` RGB in [0, 1], a list of them (blended with
            ``config.style_blend``), or ``None`` for content reconstruction.
        config: the run's settings (:class:`TransferConfig`).
        extractor: a feature extractor ``extractor(image (1, 3, H, W), layers) -> {layer: a}``,
            e.g. :func:`~coursekit.style.vgg.vgg19_features`; ``None`` builds one from
            ``config.weights`` and ``config.pooling``. Pass one to reuse it over several runs.
        device: where to compute; ``None`` uses the extractor's device, else
            :func:`~coursekit.runtime.get_device`.
        generator: seeds the noise of the initial image.
        progress: show a tqdm progress bar.

    Returns:
        :class:`TransferResult` with the image on the content's (else the style's) device.

    Raises:
        ValueError: no content and no style, badly shaped images, mismatched blend weights,
            colour preservation without content, or an image too small for the layers.

    Example:
        >>> from coursekit.style.vgg import vgg19_features
        >>> net = vgg19_features("random", device="cpu")
        >>> cfg = TransferConfig(size=32, num_steps=3, snapshot_every=1)
        >>> out = style_transfer(torch.rand(3, 32, 32), torch.rand(3, 32, 32), cfg,
        ...                      extractor=net, progress=False)
        >>> tuple(out.image.shape), len(out.history["total"]), len(out.snapshots)
        ((3, 32, 32), 3, 4)
    """
    from tqdm.auto import tqdm

    styles = [] if style is None else [style] if isinstance(style, Tensor) else list(style)
    if content is None and not styles:
        raise ValueError("give a content image, a style image, or both")
    if content is not None:
        content = _check_rgb(content, "content")
    styles = [_check_rgb(s, f"style[{i}]") for i, s in enumerate(styles)]
    blend = config.style_blend or (1.0,) * len(styles)
    if styles and len(blend) != len(styles):
        raise ValueError(f"{len(blend)} style_blend weights for {len(styles)} style images")
    blend = tuple(b / sum(blend) for b in blend) if styles else ()
    if config.preserve_colors and content is None:
        raise ValueError("preserve_colors needs a content image (its colours are kept)")
    out_device = (content if content is not None else styles[0]).device

    if device is None and extractor is not None:
        p = next(iter(extractor.parameters()), None) if hasattr(extractor, "parameters") else None
        device = p.device if p is not None else None
    device = get_device(device)
    if extractor is None:
        extractor = vgg19_features(config.weights, pooling=config.pooling, device=device)

    original_content = content
    if content is not None:
        content = content.to(device=device, dtype=torch.float32)
    styles = [s.to(device=device, dtype=torch.float32) for s in styles]
    if config.preserve_colors:
        styles = [match_luminance(s, content) for s in styles]
        content = rgb_to_yiq(content)[:1].expand(3, -1, -1).clamp(0.0, 1.0)
    reference = content if content is not None else styles[0]

    history: dict[str, list[float]] = {"content": [], "style": [], "tv": [], "total": []}
    snapshots: list[tuple[int, Tensor]] = []
    G, step = None, 0
    bar = tqdm(total=config.steps_total, desc="style transfer", disable=not progress, leave=False)
    for size in config.sizes:
        shape = _fit(*reference.shape[-2:], size)
        objective = _Objective(extractor, content, styles, blend, config, shape)
        if G is None:
            G = _initial_image(content, shape, config, device, generator)
            if config.snapshot_every:
                snapshots.append((0, G[0].detach().clone()))
        else:
            G = F.interpolate(G.detach(), size=shape, mode="bilinear", align_corners=False)
        G = G.contiguous().requires_grad_(True)
        lr = config.lr if config.lr is not None else _DEFAULT_LR[config.optimizer]
        if config.optimizer == "adam":
            opt = torch.optim.Adam([G], lr=lr)
        else:  # one function evaluation per step; the curvature history carries over
            opt = torch.optim.LBFGS([G], lr=lr, max_iter=1)
        terms: dict[str, float] = {}
        closure = _closure(opt, objective, G, terms)
        for _ in range(config.num_steps):
            opt.step(closure)
            with torch.no_grad():
                G.clamp_(0.0, 1.0)
            step += 1
            for key in history:
                if key in terms:
                    history[key].append(terms[key])
            if config.snapshot_every and (step % config.snapshot_every == 0
                                          or step == config.steps_total):
                snapshots.append((step, G[0].detach().clone()))
            bar.update(1)
            if step % 10 == 0:
                bar.set_postfix(total=f"{terms['total']:.3g}")
    bar.close()

    image = G.detach()[0].contiguous()
    if config.preserve_colors:
        color = original_content.to(device=device, dtype=torch.float32)
        image = _recolor(image, color)
        snapshots = [(s, _recolor(x, color)) for s, x in snapshots]
    return TransferResult(image=image.to(out_device),
                          history=history,
                          snapshots=[(s, x.to(out_device)) for s, x in snapshots])

