"""The cost J(G) of style transfer at one scale (lesson 4.8; Gatys et al., 2015): the content
and style targets computed once without gradients, several style images blended into one
target per layer, and J(G) with its raw terms for the history. Internal to
:func:`coursekit.style.style_transfer`; the costs themselves are :mod:`coursekit.style.costs`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from coursekit.style.costs import GramTarget, content_cost, gram_target, layer_style_cost, total_variation
from coursekit.style.vgg import VGG19Features

__all__: list[str] = []  # nothing public: see coursekit.style.transfer


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

    def _layer_costs(self, name: str, a_G: Tensor, costs: dict[str, Tensor]) -> None:
        """Add layer ``name``'s content and style terms to ``costs``."""
        cfg = self.config
        if self.use_content and name == cfg.content_layer:
            costs["content"] = content_cost(self.a_C, a_G, normalization=cfg.content_normalization)
        if name in self.layer_weights:
            term = self.layer_weights[name] * layer_style_cost(self.targets[name], a_G)
            costs["style"] = costs["style"] + term if "style" in costs else term

    def __call__(self, G: Tensor) -> tuple[Tensor, dict[str, float]]:
        costs: dict[str, Tensor] = {}
        if isinstance(self.extractor, VGG19Features) and self.layers:
            # each cost is built right after its layer: see VGG19Features.forward's on_layer
            self.extractor(G, self.layers, on_layer=lambda n, a: self._layer_costs(n, a, costs))
        elif self.layers:
            feats = self.extractor(G, self.layers)
            for name in self.layers:
                self._layer_costs(name, feats[name], costs)
        cfg, terms = self.config, {}
        total = G.new_zeros(())
        if self.use_content:
            total = total + cfg.alpha * costs["content"]
            terms["content"] = costs["content"].item()
        if self.use_style:  # J_style = Σ_l λ_l J_style^l, the blend offset added for the record
            total = total + cfg.beta * costs["style"]
            offset = sum(lam * self.offsets[n] for n, lam in self.layer_weights.items())
            terms["style"] = costs["style"].item() + offset
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
