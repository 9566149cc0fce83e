"""The cost J(G) of style transfer at one image size (lesson 4.8; Gatys et al., 2015):

    J(G) = alpha * J_content(C, G) + beta * J_style(S, G) + tv_weight * TV(G)

with the relative costs of :mod:`coursekit.style.costs` (each divided by its value for an
all-zero G, so that α and β mean the same at every size), the content and style targets
computed once without gradients, and several style images blended into one target per layer.
:func:`coursekit.style.style_transfer` minimises it; a hand-written loop can too.
"""

from __future__ import annotations

import torch
from torch import Tensor

from coursekit.images import resize_image
from coursekit.style.config import TransferConfig
from coursekit.style.costs import GramTarget, content_cost, gram_target, layer_style_cost, total_variation
from coursekit.style.vgg import VGG19Features

__all__ = ["TransferObjective"]


class TransferObjective:
    """The cost J(G) of one run at one size, with its targets computed once under ``no_grad``.

    Args:
        extractor: ``extractor(image (1, 3, H, W), layers) -> {layer: activation}``, e.g.
            :func:`~coursekit.style.vgg.vgg19_features`.
        content: ``(3, H_C, W_C)`` RGB in [0, 1], or ``None`` (texture synthesis).
        styles: style images ``(3, H_S, W_S)``; may be empty (content reconstruction).
        config: the run's weights and layers (:class:`TransferConfig`).
        shape: ``(H, W)`` of G; the content is resized to it, each style image to its longer
            side.
        blend: weight per style image, summing to 1 (``None``: equal).

    Calling it on G ``(1, 3, H, W)`` returns ``(J, terms)``: J a scalar tensor on the autograd
    graph, ``terms`` the floats ``"content"``, ``"style"`` (the relative costs), ``"tv"`` and
    ``"total"`` (= J).

    Example:
        >>> from coursekit.style.vgg import vgg19_features
        >>> net = vgg19_features("random", device="cpu")
        >>> C, S = torch.rand(3, 32, 32), torch.rand(3, 32, 32)
        >>> objective = TransferObjective(net, C, [S], TransferConfig(size=32), (32, 32))
        >>> J, terms = objective(C[None])  # G = C: no content cost
        >>> terms["content"], J.item() == terms["total"]
        (0.0, True)
    """

    def __init__(self, extractor, content: Tensor | None, styles, config: TransferConfig,
                 shape: tuple[int, int], blend=None):
        styles = list(styles)
        blend = tuple(blend) if blend is not None else (1.0 / max(len(styles), 1),) * len(styles)
        self.extractor, self.config = extractor, config
        self.use_content = content is not None and config.alpha > 0
        self.use_style = bool(styles) and config.beta > 0
        self.layer_weights = config.layer_weights if self.use_style else {}
        self.layers = ([config.content_layer] if self.use_content else []) + [
            n for n in self.layer_weights if n != config.content_layer or not self.use_content]
        self.targets: dict[str, GramTarget] = {}
        self.offsets: dict[str, float] = {}
        self.factors: dict[str, float] = {}
        with torch.no_grad():
            if self.use_content:
                c = resize_image(content, shape)
                self.a_C = extractor(c[None], [config.content_layer])[config.content_layer]
            if self.use_style:
                # Σ_k w_k ‖g − g_k‖² / ‖g_k‖² = W ‖g − t‖² + offset, with v_k = w_k / ‖g_k‖²,
                # W = Σ v_k and t = Σ v_k g_k / W: one comparison per layer against the blended
                # target t, and the offset keeps the recorded J_style exact
                sums: dict[str, list] = {}  # layer -> [Σ v_k g_k, Σ v_k]
                for s, w in zip(styles, blend):
                    feats = extractor(resize_image(s, max(shape))[None], list(self.layer_weights))
                    for name, a in feats.items():
                        t = gram_target(a)
                        g = (t.gram / t.positions).double()  # (1, C, C)
                        v = w / max(g.square().sum().item(), 1e-30)
                        acc = sums.setdefault(name, [0, 0.0])
                        acc[0], acc[1] = acc[0] + v * g, acc[1] + v
                for name, (vg, total_v) in sums.items():
                    target = vg / total_v
                    # the relative cost divides by ‖t‖²: this factor turns it into W ‖g − t‖²
                    self.factors[name] = total_v * target.square().sum().item()
                    self.offsets[name] = sum(blend) - self.factors[name]
                    self.targets[name] = GramTarget(target.float(), 1)

    def _layer_costs(self, name: str, a_G: Tensor, costs: dict[str, Tensor]) -> None:
        """Add layer ``name``'s content and style terms to ``costs``."""
        if self.use_content and name == self.config.content_layer:
            costs["content"] = content_cost(self.a_C, a_G, normalization="relative")
        if name in self.layer_weights:
            cost = layer_style_cost(self.targets[name], a_G, normalization="relative")
            term = self.layer_weights[name] * self.factors[name] * cost
            costs["style"] = costs["style"] + term if "style" in costs else term

    TERMS = ("content", "style", "tv", "total")

    def __call__(self, G: Tensor) -> tuple[Tensor, dict[str, float]]:
        total, values = self.with_terms(G)
        used = (self.use_content, self.use_style, True, True)
        return total, {k: v for k, v, on in zip(self.TERMS, values.tolist(), used) if on}

    def with_terms(self, G: Tensor) -> tuple[Tensor, Tensor]:
        """``(J, terms)`` with ``terms`` a ``(4,)`` tensor in the order of :attr:`TERMS` (NaN for a
        term that is off), read back to no host: what a CUDA-graph step records."""
        costs: dict[str, Tensor] = {}
        if isinstance(self.extractor, VGG19Features) and self.layers:
            # each cost is built right after its layer: see VGG19Features.forward's on_layer
            self.extractor(G, self.layers, on_layer=lambda n, a: self._layer_costs(n, a, costs))
        elif self.layers:
            feats = self.extractor(G, self.layers)
            for name in self.layers:
                self._layer_costs(name, feats[name], costs)
        cfg = self.config
        nan = G.new_full((), float("nan"))
        total = G.new_zeros(())
        content = style = nan
        if self.use_content:
            total = total + cfg.alpha * costs["content"]
            content = costs["content"].detach()
        if self.use_style:  # J_style = Σ_l λ_l J_style^l, the blend offset added for the record
            total = total + cfg.beta * costs["style"]
            offset = sum(lam * self.offsets[n] for n, lam in self.layer_weights.items())
            style = costs["style"].detach() + offset
        if cfg.tv_weight > 0:
            tv = total_variation(G, reduction="mean")
            total = total + cfg.tv_weight * tv
        else:  # reported, but off the graph
            with torch.no_grad():
                tv = total_variation(G, reduction="mean")
        terms = torch.stack([content.float(), style.float(), tv.detach().float(), total.detach().float()])
        return total, terms
