"""The style-transfer loop and colour preservation, on seeded random VGG19 weights (fast)."""

from __future__ import annotations

import copy

import pytest
import torch

from coursekit.style import (
    TransferConfig,
    rgb_to_yiq,
    style_transfer,
)


def _image(seed: int, h: int = 32, w: int = 32) -> torch.Tensor:
    return torch.rand(3, h, w, generator=torch.Generator().manual_seed(seed))


def _cfg(**kw) -> TransferConfig:
    kw.setdefault("size", 32)
    kw.setdefault("num_steps", 8)
    kw.setdefault("tv_weight", 0.0)  # the images are noise: a smoothness term would fight J_content
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
    net = copy.deepcopy(net).to(device)  # Module.to moves in place: the shared fixture stays on the CPU
    out = style_transfer(_image(0).to(device), _image(1).to(device), _cfg(num_steps=2),
                         extractor=net, progress=False)
    assert out.image.device.type == device.type


def test_bfloat16_precision_runs_on_a_copy_and_tracks_float32(net):
    """``precision="bfloat16"`` leaves the caller's network in float32, lowers the cost like the
    float32 run does, and lands within bfloat16's rounding of the float32 costs."""
    runs = {}
    for precision in ("float32", "bfloat16"):
        runs[precision] = style_transfer(_image(0), _image(1), _cfg(precision=precision, num_steps=10),
                                         extractor=net, progress=False)
        assert all(p.dtype == torch.float32 for p in net.parameters())
    h32, h16 = runs["float32"].history, runs["bfloat16"].history
    assert runs["bfloat16"].image.dtype == torch.float32
    assert h16["total"][-1] < 0.5 * h16["total"][0]
    assert h16["style"][0] == pytest.approx(h32["style"][0], rel=0.05)
    assert h16["total"][-1] == pytest.approx(h32["total"][-1], rel=0.3)


def test_bfloat16_network_keeps_the_first_convolution_in_float32(net):
    """conv1_1 sees G's pixels: bfloat16 there rounds L-BFGS's small steps away."""
    from coursekit.style.transfer import _with_precision

    low = _with_precision(net, "bfloat16")
    assert low is not net and _with_precision(low, "bfloat16") is low
    assert _with_precision(net, "float32") is net
    dtypes = {name: conv.weight.dtype for name, conv in low.convs.items()}
    assert dtypes.pop("conv1_1") == torch.float32
    assert set(dtypes.values()) == {torch.bfloat16}
    out = low(_image(0)[None], ["conv1_1", "relu1_2", "relu5_1"])
    assert [a.dtype for a in out.values()] == [torch.float32, torch.bfloat16, torch.bfloat16]


def test_bfloat16_precision_needs_a_module():
    with pytest.raises(ValueError, match="precision"):
        TransferConfig(precision="float16")
    with pytest.raises(ValueError, match="VGG19Features extractor"):
        style_transfer(_image(0), _image(1), _cfg(precision="bfloat16"),
                       extractor=lambda image, layers: {}, progress=False)



def test_lbfgs_records_the_clamped_step():
    """After the clamp, L-BFGS's next curvature pair uses the step G really took."""
    from coursekit.style.transfer import _record_clamped_step

    G = torch.full((4,), 0.9, requires_grad=True)
    opt = torch.optim.LBFGS([G], max_iter=1)

    def closure():
        opt.zero_grad()
        loss = ((G - torch.tensor([2.0, -1.0, 0.5, 0.8])) ** 2).sum()
        loss.backward()
        return loss

    for _ in range(3):
        before = G.detach().clone()
        opt.step(closure)
        proposed = opt.state[G]["d"] * opt.state[G]["t"]
        with torch.no_grad():
            G.clamp_(0.0, 1.0)
        _record_clamped_step(opt, G, before)
        state = opt.state[G]
        torch.testing.assert_close(state["d"] * state["t"], G.detach() - before)
    assert not torch.allclose(proposed, G.detach() - before)  # the clamp did change the step
    torch.testing.assert_close(G.detach(), torch.tensor([1.0, 0.0, 0.5, 0.8]))


@pytest.mark.parametrize("graph", ["eager", "emulated graph"])
def test_gpu_lbfgs_path_takes_the_steps_of_torch_lbfgs(net, monkeypatch, emulated_graph, graph):
    """The CUDA path (CompactLBFGS, one graph replay per step) computes what torch.optim.LBFGS
    computes; on the CPU it runs eagerly or through an emulated graph (conftest.EmulatedGraph),
    so it can be compared here, and its report says which."""
    from coursekit.style import graphed, transfer

    cfg = _cfg(num_steps=6, snapshot_every=3)
    ref = style_transfer(_image(0), _image(1), cfg, extractor=net, progress=False)
    assert ref.step_reports == []  # torch.optim.LBFGS: no report
    monkeypatch.setattr(transfer, "_on_gpu", lambda G: True)
    if graph == "eager":
        monkeypatch.setattr(graphed, "_new_graph", lambda device: None)
    got = style_transfer(_image(0), _image(1), cfg, extractor=net, progress=False)
    (report,) = got.step_reports
    if graph == "eager":
        assert (report.path, report.eager_steps, report.replays) == ("eager", 6, 0)
    else:
        assert (report.path, report.eager_steps, report.replays) == ("cuda_graph", 2, 4)
    assert got.history.keys() == ref.history.keys()
    for key in ref.history:
        assert len(got.history[key]) == len(ref.history[key])
        torch.testing.assert_close(torch.tensor(got.history[key]), torch.tensor(ref.history[key]),
                                   rtol=1e-5, atol=1e-7)
    assert [s for s, _ in got.snapshots] == [s for s, _ in ref.snapshots]
    torch.testing.assert_close(got.image, ref.image, rtol=0, atol=1e-5)
