"""The neural style transfer loop, lessons 4.6 and 4.8 (Gatys, Ecker & Bethge, "A Neural
Algorithm of Artistic Style", 2015; "Image Style Transfer Using Convolutional Neural Networks",
CVPR 2016).

Gradient descent on the pixels of the generated image G minimises

    J(G) = alpha * J_content(C, G) + beta * J_style(S, G) + tv_weight * TV(G)

(:class:`~coursekit.style.objective.TransferObjective`: the relative costs of
:mod:`coursekit.style.costs` on VGG19 activations,
:func:`~coursekit.style.vgg.vgg19_features`). The content and style targets are computed once,
without gradients; one *step* is one forward and backward pass (for L-BFGS too, so step counts
and timings compare across optimisers); G is clamped to [0, 1] after every step.

Special cases used by the notebooks: ``content=None`` is texture synthesis (the style cost
alone), ``style=None`` or ``beta=0`` is content reconstruction (the content cost alone).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from coursekit.images import resize_image
from coursekit.runtime import get_device
from coursekit.style.color import match_luminance, rgb_to_yiq, yiq_to_rgb
from coursekit.style.config import TransferConfig
from coursekit.style.graphed import StepsReport, lbfgs_steps
from coursekit.style.objective import TransferObjective
from coursekit.style.vgg import VGG19Features, vgg19_features

__all__ = ["TransferResult", "style_transfer"]

_DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}


@dataclass
class TransferResult:
    """What :func:`style_transfer` returns.

    Attributes:
        image: ``(3, H, W)`` the final G in [0, 1], on the input's device.
        history: per step, lists ``"content"`` (relative J_content), ``"style"``
            (relative J_style), ``"tv"`` (mean) and ``"total"`` (the weighted sum minimised).
            A term that is off (no content image, or ``beta=0``/no style) has an empty list.
        snapshots: ``(step, image (3, H, W))`` pairs, from step 0 (the initial G) on.
        step_reports: for L-BFGS on CUDA, one :class:`~coursekit.style.graphed.StepsReport`
            per image size: whether the steps ran as CUDA-graph replays or one by one (and
            why), with their device times and memory. Empty elsewhere.

    Example:
        >>> r = TransferResult(torch.rand(3, 8, 8), {"content": [2.0, 0.5], "style": [],
        ...                                          "tv": [], "total": [2.0, 0.5]})
        >>> tuple(r.image.shape), r.history["total"][-1], r.snapshots
        ((3, 8, 8), 0.5, [])
    """

    image: Tensor
    history: dict[str, list[float]] = field(default_factory=dict)
    snapshots: list[tuple[int, Tensor]] = field(default_factory=list)
    step_reports: list[StepsReport] = field(default_factory=list)


def _check_rgb(image: Tensor, name: str) -> Tensor:
    if not isinstance(image, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(image).__name__}")
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"{name} must be an RGB image (3, H, W), got shape {tuple(image.shape)}")
    return image


def _record_clamped_step(opt: torch.optim.LBFGS, G: Tensor, before: Tensor) -> None:
    """Make L-BFGS's last step the one G really took, after the clamp to [0, 1].

    L-BFGS builds its curvature pairs from ``s = t * d``, the step it proposed; the clamp then
    moves G elsewhere, so ``s`` and the gradient change ``y`` disagree and the inverse-Hessian
    estimate goes wrong: J then rises on many steps (benchmarks/RESULTS_style.md). ``G``: the
    parameter after the clamp; ``before``: a copy of it before the step.
    """
    state = opt.state[G]
    if "d" in state:
        state["d"] = (G.detach() - before).flatten()  # the next pair uses s = t * d
        state["t"] = 1.0


def _closure(opt: torch.optim.Optimizer, objective: TransferObjective, G: Tensor, terms: dict):
    """One forward and backward pass; the cost terms land in ``terms``.

    The optimiser sees J divided by its first value: L-BFGS's first step is ``lr / ‖∇J‖₁``
    (capped at ``lr``), so a cost on any scale gets the same first step; the constant factor
    changes nothing else.
    """
    scale: list[float] = []

    def closure() -> Tensor:
        opt.zero_grad(set_to_none=True)
        loss, t = objective(G)
        if not scale:
            scale.append(t["total"] if t["total"] > 0 else 1.0)
        (loss / scale[0]).backward()
        terms.update(t)
        return loss.detach() / scale[0]

    return closure


def _on_gpu(G: Tensor) -> bool:
    return G.is_cuda


def _lbfgs_on_cuda(objective, G, config, lr, step, history, snapshots, bar, reports) -> int:
    """L-BFGS on a GPU: :func:`~coursekit.style.graphed.lbfgs_steps` (one CUDA-graph replay per
    step, the steps of ``torch.optim.LBFGS`` with the clamped step); its report is appended to
    ``reports``. Returns the step count."""

    def after_step(i: int) -> None:
        n = step + i
        if config.snapshot_every and (n % config.snapshot_every == 0 or n == config.steps_total):
            snapshots.append((n, G[0].detach().clone()))
        bar.update(1)

    rows, report = lbfgs_steps(objective.with_terms, G, num_steps=config.num_steps, lr=lr,
                               after_step=after_step)
    reports.append(report)
    for row in rows.tolist():
        for key, value in zip(objective.TERMS, row):
            if value == value:  # NaN: the term is off
                history[key].append(value)
    return step + config.num_steps


def _recolor(luminance: Tensor, content: Tensor) -> Tensor:
    """G's luminance Y with the content's chrominance I, Q (colour preservation)."""
    iq = rgb_to_yiq(resize_image(content, tuple(luminance.shape[-2:])))[1:]
    return yiq_to_rgb(torch.cat([rgb_to_yiq(luminance)[:1], iq])).clamp(0.0, 1.0)


def _with_precision(extractor, precision: str):
    """``extractor``, or a copy of it in ``precision`` (the caller's network is left as it is).

    The first convolution stays float32: it is the one layer that sees G's pixels, and in
    bfloat16 (8 significant bits) the small pixel changes of L-BFGS are rounded away
    (benchmarks/RESULTS_style.md).
    """
    if precision == "float32":
        return extractor
    if not isinstance(extractor, VGG19Features):
        raise ValueError(f"precision={precision!r} needs a VGG19Features extractor (from "
                         f"vgg19_features), got {type(extractor).__name__}")
    dtype = getattr(torch, precision)
    if extractor.convs["conv1_2"].weight.dtype == dtype:
        return extractor
    low = copy.deepcopy(extractor).to(dtype)
    low.convs["conv1_1"].float()
    return low


def _initial_image(content, shape, config, device, generator) -> Tensor:
    if config.init == "noise" or content is None:
        return torch.rand((1, 3, *shape), generator=generator).to(device)
    c = resize_image(content, shape)[None]
    if config.init == "content":
        return c.clone()
    noise = torch.rand(c.shape, generator=generator).to(device)
    return ((1.0 - config.noise_ratio) * c + config.noise_ratio * noise).clamp(0.0, 1.0)


def style_transfer(
    content: Tensor | None,
    style: Tensor | Sequence[Tensor] | None,
    config: TransferConfig | None = None,
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
        config: the run's settings (:class:`TransferConfig`; ``None``: the defaults).
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
        ValueError: badly shaped images, or a run :meth:`TransferConfig.check` refuses (no
            content and no style, mismatched blend weights, colour preservation without
            content, an image too small for the layers).

    Example:
        >>> from coursekit.style.vgg import VGG19Features, vgg19_features
        >>> net = vgg19_features("random", device="cpu")
        >>> cfg = TransferConfig(size=32, num_steps=3, snapshot_every=1)
        >>> out = style_transfer(torch.rand(3, 32, 32), torch.rand(3, 32, 32), cfg,
        ...                      extractor=net, progress=False)
        >>> tuple(out.image.shape), len(out.history["total"]), len(out.snapshots)
        ((3, 32, 32), 3, 4)
    """
    from tqdm.auto import tqdm

    config = TransferConfig() if config is None else config
    styles = [] if style is None else [style] if isinstance(style, Tensor) else list(style)
    if content is not None:
        content = _check_rgb(content, "content")
    styles = [_check_rgb(s, f"style[{i}]") for i, s in enumerate(styles)]
    reference = content if content is not None else styles[0] if styles else None
    shapes = config.check(tuple(reference.shape[-2:]) if reference is not None else (0, 0),
                          len(styles), content=content is not None)
    blend = config.style_blend or (1.0,) * len(styles)
    blend = tuple(b / sum(blend) for b in blend) if styles else ()
    out_device = (content if content is not None else styles[0]).device

    if device is None and extractor is not None:
        p = next(iter(extractor.parameters()), None) if hasattr(extractor, "parameters") else None
        device = p.device if p is not None else None
    device = get_device(device)
    if extractor is None:
        extractor = vgg19_features(config.weights, pooling=config.pooling, device=device)
    extractor = _with_precision(extractor, config.precision)

    original_content = content
    if content is not None:
        content = content.to(device=device, dtype=torch.float32)
    styles = [s.to(device=device, dtype=torch.float32) for s in styles]
    if config.preserve_colors:
        styles = [match_luminance(s, content) for s in styles]
        content = rgb_to_yiq(content)[:1].expand(3, -1, -1).clamp(0.0, 1.0)

    history: dict[str, list[float]] = {"content": [], "style": [], "tv": [], "total": []}
    snapshots: list[tuple[int, Tensor]] = []
    reports: list[StepsReport] = []
    G, step = None, 0
    bar = tqdm(total=config.steps_total, desc="style transfer", disable=not progress, leave=False)
    for shape in shapes:
        objective = TransferObjective(extractor, content, styles, config, shape, blend)
        if G is None:
            G = _initial_image(content, shape, config, device, generator)
            if config.snapshot_every:
                snapshots.append((0, G[0].detach().clone()))
        else:
            G = F.interpolate(G.detach(), size=shape, mode="bilinear", align_corners=False)
        G = G.contiguous().requires_grad_(True)
        lr = config.lr if config.lr is not None else _DEFAULT_LR[config.optimizer]
        if config.optimizer == "lbfgs" and _on_gpu(G):  # the same steps, without host round trips
            step = _lbfgs_on_cuda(objective, G, config, lr, step, history, snapshots, bar,
                                  reports)
            continue
        if config.optimizer == "adam":
            opt = torch.optim.Adam([G], lr=lr)
        else:  # one function evaluation per step
            opt = torch.optim.LBFGS([G], lr=lr, max_iter=1)
        terms: dict[str, float] = {}
        closure = _closure(opt, objective, G, terms)
        for _ in range(config.num_steps):
            before = G.detach().clone() if config.optimizer == "lbfgs" else None
            opt.step(closure)
            with torch.no_grad():
                G.clamp_(0.0, 1.0)
            if before is not None:
                _record_clamped_step(opt, G, before)
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
                          snapshots=[(s, x.to(out_device)) for s, x in snapshots],
                          step_reports=reports)
