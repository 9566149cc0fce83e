"""The cost at one scale: recorded terms equal the cost functions, blended style targets."""

from __future__ import annotations

import pytest
import torch

from coursekit.style import (
    TransferConfig,
    TransferObjective,
    content_cost,
    style_cost,
    style_transfer,
    total_variation,
)


def _image(seed: int, h: int = 32, w: int = 32) -> torch.Tensor:
    return torch.rand(3, h, w, generator=torch.Generator().manual_seed(seed))


def test_history_terms_match_the_cost_functions(net):
    """The first recorded terms are the costs of the initial image (content init => J_content 0)."""
    C, S = _image(0), _image(1)
    cfg = TransferConfig(size=32, init="content", num_steps=1, alpha=2.0, beta=3.0, tv_weight=0.5)
    h = style_transfer(C, S, cfg, extractor=net, progress=False).history
    layers = dict(cfg.layer_weights)
    with torch.no_grad():
        fG = net(C[None], [*layers, "relu4_2"])
        fS = net(S[None], list(layers))
        j_s = style_cost(fS, fG, layers, normalization="relative").item()
        j_c = content_cost(fG["relu4_2"], fG["relu4_2"], normalization="relative").item()
    assert h["content"][0] == pytest.approx(j_c, abs=1e-3)  # channels-last rounding
    assert h["style"][0] == pytest.approx(j_s, rel=1e-4)
    assert h["total"][0] == pytest.approx(2.0 * j_c + 3.0 * j_s + 0.5 * h["tv"][0], rel=1e-4)


def test_objective_is_the_weighted_sum_of_relative_costs(net):
    """From noise (content cost > 0): J = α J_content + β J_style + tv · TV, each relative."""
    C, S, G = _image(0), _image(1), _image(2)[None]
    cfg = TransferConfig(size=32, alpha=10.0, beta=40.0, tv_weight=2.0)
    J, terms = TransferObjective(net, C, [S], cfg, (32, 32))(G)
    layers = dict(cfg.layer_weights)
    with torch.no_grad():
        fG, fC, fS = (net(x[None] if x.ndim == 3 else x, [*layers, "relu4_2"]) for x in (G, C, S))
    j_c = content_cost(fC["relu4_2"], fG["relu4_2"], normalization="relative").item()
    j_s = style_cost(fS, fG, layers, normalization="relative").item()
    tv = total_variation(G, reduction="mean").item()
    assert terms["content"] == pytest.approx(j_c, rel=1e-4)
    assert terms["style"] == pytest.approx(j_s, rel=1e-4)
    assert J.item() == pytest.approx(10 * j_c + 40 * j_s + 2 * tv, rel=1e-4)


def test_blended_styles_report_the_weighted_sum(net):
    C, S1, S2 = _image(0), _image(1), _image(2, 24, 40)
    cfg = TransferConfig(size=32, init="content", num_steps=1, style_blend=(3.0, 1.0))
    h = style_transfer(C, [S1, S2], cfg, extractor=net, progress=False).history
    single = [style_transfer(C, S, TransferConfig(size=32, init="content", num_steps=1), extractor=net,
                             progress=False).history["style"][0] for S in (S1, S2)]
    assert h["style"][0] == pytest.approx(0.75 * single[0] + 0.25 * single[1], rel=1e-4)
