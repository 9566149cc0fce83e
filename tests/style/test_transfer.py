"""The style-transfer loop and colour preservation, on seeded random VGG19 weights (fast)."""

from __future__ import annotations

import pytest
import torch

from coursekit.style import (
    TransferConfig,
    content_cost,
    match_luminance,
    rgb_to_yiq,
    style_cost,
    style_transfer,
    vgg19_features,
    yiq_to_rgb,
)


@pytest.fixture(scope="module")
def net():
    return vgg19_features("random", device="cpu", generator=torch.Generator().manual_seed(0))


def _image(seed: int, h: int = 32, w: int = 32) -> torch.Tensor:
    return torch.rand(3, h, w, generator=torch.Generator().manual_seed(seed))


def _cfg(**kw) -> TransferConfig:
    kw.setdefault("size", 32)
    kw.setdefault("num_steps", 8)
    return TransferConfig(**kw)


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_costs_fall_and_image_stays_valid(net, optimizer):
    out = style_transfer(_image(0), _image(1), _cfg(optimizer=optimizer, init="noise", num_steps=15),
                         extractor=net, progress=False, generator=torch.Generator().manual_seed(0))
    h = out.history
    assert out.image.shape == (3, 32, 32)
    assert 0.0 <= out.image.min() and out.image.max() <= 1.0
    assert all(len(h[k]) == 15 for k in ("content", "style", "tv", "total"))
    assert h["total"][-1] < 0.5 * h["total"][0]


def test_history_terms_match_the_cost_functions(net):
    """The first recorded terms are the costs of the initial image (content init => J_content 0)."""
    C, S = _image(0), _image(1)
    cfg = _cfg(init="content", num_steps=1, alpha=2.0, beta=3.0, tv_weight=0.5)
    h = style_transfer(C, S, cfg, extractor=net, progress=False).history
    layers = dict(cfg.layer_weights)
    with torch.no_grad():
        fG = net(C[None], [*layers, "relu4_2"])
        fS = net(S[None], list(layers))
        j_s = style_cost(fS, fG, layers).item()
        j_c = content_cost(fG["relu4_2"], fG["relu4_2"]).item()
    assert h["content"][0] == pytest.approx(j_c, abs=1e-3)  # channels-last rounding
    assert h["style"][0] == pytest.approx(j_s, rel=1e-4)
    assert h["total"][0] == pytest.approx(2.0 * j_c + 3.0 * j_s + 0.5 * h["tv"][0], rel=1e-4)


def test_blended_styles_report_the_weighted_sum(net):
    C, S1, S2 = _image(0), _image(1), _image(2, 24, 40)
    cfg = _cfg(init="content", num_steps=1, style_blend=(3.0, 1.0))
    h = style_transfer(C, [S1, S2], cfg, extractor=net, progress=False).history
    single = [style_transfer(C, S, _cfg(init="content", num_steps=1), extractor=net,
                             progress=False).history["style"][0] for S in (S1, S2)]
    assert h["style"][0] == pytest.approx(0.75 * single[0] + 0.25 * single[1], rel=1e-4)


def test_texture_synthesis_and_content_reconstruction(net):
    tex = style_transfer(None, _image(1, 24, 48), _cfg(num_steps=3), extractor=net, progress=False)
    assert tex.image.shape == (3, 16, 32)  # the style's aspect ratio, longer side = size
    assert tex.history["content"] == [] and len(tex.history["style"]) == 3
    rec = style_transfer(_image(0), None, _cfg(num_steps=3, content_layer="conv1_2"),
                         extractor=net, progress=False)
    assert rec.history["style"] == [] and len(rec.history["content"]) == 3
    beta0 = style_transfer(_image(0), _image(1), _cfg(num_steps=2, beta=0), extractor=net,
                           progress=False)
    assert beta0.history["style"] == []


def test_reconstruction_from_noise_approaches_the_content(net):
    C = _image(0)
    out = style_transfer(C, None, _cfg(num_steps=40, init="noise", content_layer="relu1_1"),
                         extractor=net, progress=False, generator=torch.Generator().manual_seed(1))
    start = torch.rand(C.shape, generator=torch.Generator().manual_seed(1))
    assert (out.image - C).abs().mean() < 0.3 * (start - C).abs().mean()


def test_snapshots_multiscale_and_sizes(net):
    cfg = _cfg(scales=(32, 48), num_steps=4, snapshot_every=2)
    out = style_transfer(_image(0, 32, 64), _image(1), cfg, extractor=net, progress=False)
    assert [s for s, _ in out.snapshots] == [0, 2, 4, 6, 8]
    assert out.snapshots[0][1].shape == (3, 16, 32) and out.snapshots[-1][1].shape == (3, 24, 48)
    assert out.image.shape == (3, 24, 48)
    assert len(out.history["total"]) == 8


def test_inits_are_seeded_and_content_init_starts_at_content(net):
    C, S = _image(0), _image(1)
    runs = [style_transfer(C, S, _cfg(init="content+noise", num_steps=0, snapshot_every=1),
                           extractor=net, progress=False, generator=torch.Generator().manual_seed(5))
            for _ in range(2)]
    a, b = runs[0].snapshots[0][1], runs[1].snapshots[0][1]
    assert torch.equal(a, b) and 0 <= a.min() and a.max() <= 1
    assert torch.allclose(a, 0.4 * C + 0.6 * torch.rand(1, 3, 32, 32,
                          generator=torch.Generator().manual_seed(5))[0], atol=1e-6)
    c = style_transfer(C, S, _cfg(init="content", num_steps=0, snapshot_every=1), extractor=net,
                       progress=False)
    assert torch.allclose(c.snapshots[0][1], C)


def test_preserve_colors_keeps_content_chroma(net):
    C, S = _image(0), _image(1)
    out = style_transfer(C, S, _cfg(preserve_colors=True, num_steps=4), extractor=net,
                         progress=False)
    iq_out, iq_c = rgb_to_yiq(out.image)[1:], rgb_to_yiq(C)[1:]
    # clipping to [0, 1] moves a few pixels; the chroma otherwise is the content's
    assert (iq_out - iq_c).abs().median() < 1e-3


def test_yiq_round_trip_and_luminance_matching():
    x = torch.rand(2, 3, 5, 6, dtype=torch.float64)
    torch.testing.assert_close(yiq_to_rgb(rgb_to_yiq(x)), x)
    grey = torch.full((3, 4, 4), 0.3)
    assert torch.allclose(rgb_to_yiq(grey)[0], torch.full((4, 4), 0.3), atol=1e-6)
    y = match_luminance(torch.rand(3, 9, 9), torch.rand(3, 4, 4) * 0.5)
    assert y.shape == (3, 9, 9) and torch.equal(y[0], y[1])
    with pytest.raises(ValueError, match="3, H, W"):
        rgb_to_yiq(torch.rand(4, 4))


@pytest.mark.parametrize("kw, match", [
    ({"optimizer": "sgd"}, "optimizer"),
    ({"init": "zeros"}, "init"),
    ({"scales": (64, 32)}, "increasing"),
    ({"style_layer_weights": (1.0,)}, "one λ per layer"),
    ({"beta": -1.0}, ">= 0"),
    ({"content_normalization": "paper"}, "content_normalization"),
])
def test_config_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        TransferConfig(**kw)


def test_bad_inputs(net):
    with pytest.raises(ValueError, match="content image, a style image"):
        style_transfer(None, None, _cfg(), extractor=net, progress=False)
    with pytest.raises(ValueError, match="RGB image"):
        style_transfer(torch.rand(1, 32, 32), _image(1), _cfg(), extractor=net, progress=False)
    with pytest.raises(ValueError, match="style_blend"):
        style_transfer(_image(0), [_image(1)], _cfg(style_blend=(1.0, 2.0)), extractor=net,
                       progress=False)
    with pytest.raises(ValueError, match="preserve_colors"):
        style_transfer(None, _image(1), _cfg(preserve_colors=True), extractor=net, progress=False)
    with pytest.raises(ValueError, match="unknown VGG19 layer"):
        style_transfer(_image(0), _image(1), _cfg(content_layer="relu9_9"), extractor=net,
                       progress=False)
    with pytest.raises(ValueError, match="too small"):
        style_transfer(_image(0, 8, 8), _image(1), _cfg(size=8), extractor=net, progress=False)


def test_result_follows_the_input_device(net, device):
    net = net.to(device)
    out = style_transfer(_image(0).to(device), _image(1).to(device), _cfg(num_steps=2),
                         extractor=net, progress=False)
    assert out.image.device.type == device.type
