"""The VGG19 feature extractor: requested layers, early stopping, memory layout, preprocessing."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursekit.style.vgg import (
    VGG_MEAN_BGR,
    VGG19Features,
    load_vgg19_weights,
    vgg19_features,
    vgg_min_size,
    vgg_preprocess,
)


@pytest.fixture(scope="module")
def random_net():
    return vgg19_features("random", device="cpu", generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def imagenet_net():
    return vgg19_features("imagenet", device="cpu")


def test_vgg_preprocess():
    rgb = torch.tensor([0.2, 0.4, 0.6]).view(3, 1, 1).expand(3, 2, 3)
    x = vgg_preprocess(rgb)
    assert x.shape == (1, 3, 2, 3)
    expected = [0.6 * 255 - VGG_MEAN_BGR[0], 0.4 * 255 - VGG_MEAN_BGR[1], 0.2 * 255 - VGG_MEAN_BGR[2]]
    torch.testing.assert_close(x[0, :, 1, 2], torch.tensor(expected))
    assert vgg_preprocess(torch.rand(4, 3, 5, 5)).shape == (4, 3, 5, 5)
    with pytest.raises(ValueError, match=r"\(1, 5, 5\)"):
        vgg_preprocess(torch.rand(1, 5, 5))


def test_unknown_pooling():
    with pytest.raises(ValueError, match="pooling"):
        vgg19_features("random", pooling="min", device="cpu")


def test_frozen_and_eval(random_net):
    assert not random_net.training
    assert all(not p.requires_grad for p in random_net.parameters())
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    random_net(x, "relu2_1")["relu2_1"].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_returns_requested_layers_in_order(random_net):
    out = random_net(torch.rand(2, 3, 32, 32), ["relu3_1", "conv1_1", "pool2"])
    assert list(out) == ["relu3_1", "conv1_1", "pool2"]
    assert out["conv1_1"].shape == (2, 64, 32, 32)
    assert out["pool2"].shape == (2, 128, 8, 8)
    assert out["relu3_1"].shape == (2, 256, 8, 8)
    assert random_net(torch.rand(3, 32, 32), "pool5")["pool5"].shape == (1, 512, 1, 1)


def test_conv_output_survives_in_place_relu(random_net):
    out = random_net(torch.rand(1, 3, 8, 8), ["conv1_1", "relu1_1"])
    assert (out["conv1_1"] < 0).any()
    torch.testing.assert_close(out["relu1_1"], out["conv1_1"].clamp_min(0))


def test_forward_matches_manual_layers(random_net):
    x = torch.rand(1, 3, 8, 8)
    w, b = random_net.convs["conv1_1"].weight, random_net.convs["conv1_1"].bias
    c11 = F.conv2d(vgg_preprocess(x), w, b, padding=1)
    c12 = random_net.convs["conv1_2"](F.relu(c11))
    out = random_net(x, ["conv1_1", "pool1"])
    torch.testing.assert_close(out["conv1_1"], c11)
    torch.testing.assert_close(out["pool1"], F.max_pool2d(F.relu(c12), 2))


def test_avg_pooling():
    net = vgg19_features("random", pooling="avg", device="cpu")
    out = net(torch.rand(1, 3, 8, 8), ["relu1_2", "pool1"])
    torch.testing.assert_close(out["pool1"], F.avg_pool2d(out["relu1_2"], 2))


def test_stops_at_the_deepest_requested_layer(random_net):
    called = []
    hooks = [m.register_forward_hook(lambda m, i, o, n=n: called.append(n))
             for n, m in random_net.convs.items()]
    try:
        random_net(torch.rand(1, 3, 16, 16), ["relu1_1", "relu2_1"])
    finally:
        for h in hooks:
            h.remove()
    assert called == ["conv1_1", "conv1_2", "conv2_1"]


def test_bad_layers_and_sizes(random_net):
    with pytest.raises(ValueError, match="relu5_4"):  # the message lists the valid names
        random_net(torch.rand(1, 3, 8, 8), ["relu4_5"])
    with pytest.raises(ValueError, match="no layers"):
        random_net(torch.rand(1, 3, 8, 8), [])
    with pytest.raises(ValueError, match="too small.*16"):
        random_net(torch.rand(1, 3, 8, 8), ["pool4"])
    with pytest.raises(ValueError, match="RGB"):
        random_net(torch.rand(1, 4, 8, 8), ["relu1_1"])
    with pytest.raises(TypeError):
        random_net(np.zeros((1, 3, 8, 8)), ["relu1_1"])
    assert vgg_min_size(["relu1_1"]) == 1 and vgg_min_size("relu5_1") == 16 and vgg_min_size("pool5") == 32


def test_devices(device):
    net = vgg19_features("random", device=device)
    out = net(torch.rand(1, 3, 16, 16, device=device), "relu3_1")["relu3_1"]
    assert out.device.type == device.type


def test_gradcheck_float64(random_net):
    net = copy.deepcopy(random_net).double()
    x = torch.rand(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: net(t, "conv2_1")["conv2_1"][:, :4], (x,), fast_mode=True)


def test_imagenet_features_are_sensible(imagenet_net):
    from coursekit.data.photos import sample_photos

    cat = sample_photos((224, 224), names=["chelsea"])["chelsea"]
    grey = torch.full((3, 224, 224), 0.5)
    with torch.no_grad():
        out = imagenet_net(torch.stack([cat, grey]), ["relu1_1", "relu4_2", "pool5"])
    assert out["pool5"].shape == (2, 512, 7, 7)
    for a in out.values():
        assert torch.isfinite(a).all() and (a >= 0).all()
    # relu4_2 is sparse and not dead: a trained net fires on some channels, not all
    frac = (out["relu4_2"][0] > 0).float().mean().item()
    assert 0.02 < frac < 0.9
    # the features tell images apart: a flat grey image looks very different from the cat
    cos = F.cosine_similarity(out["pool5"][0].flatten(), out["pool5"][1].flatten(), dim=0).item()
    assert cos < 0.5


def test_torchvision_preprocessing_uses_imagenet_mean_std():
    net = VGG19Features(load_vgg19_weights("random"), preprocessing="torchvision")
    x = torch.rand(1, 3, 2, 2)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    torch.testing.assert_close(net.preprocess(x), (x - mean) / std)
    with pytest.raises(ValueError, match="preprocessing"):
        VGG19Features(load_vgg19_weights("random"), preprocessing="bgr")


@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_normalized_weights_have_unit_mean_activations(pooling):
    from coursekit.style.vgg import normalize_vgg19_weights

    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    raw = {k: v.clone() for k, v in load_vgg19_weights("random").items()}
    state = normalize_vgg19_weights(raw, x, pooling=pooling)
    assert torch.equal(raw["conv1_1.weight"], load_vgg19_weights("random")["conv1_1.weight"])  # not modified
    net = VGG19Features(state, pooling=pooling).double()
    layers = ["relu1_1", "relu3_4", "relu5_4"]
    x = x.double()
    normed, original = net(x, layers), VGG19Features(raw, pooling=pooling).double()(x, layers)
    for name in layers:
        means = normed[name].mean(dim=(0, 2, 3))
        fired = means[means > 1e-3]
        assert len(fired) > len(means) // 2
        torch.testing.assert_close(fired, torch.ones_like(fired), atol=1e-4, rtol=1e-4)
        # the same features up to a positive factor per channel
        fired = original[name].sum(dim=(0, 2, 3)) > 0
        factor = normed[name].sum(dim=(0, 2, 3))[fired] / original[name].sum(dim=(0, 2, 3))[fired]
        assert (factor > 0).all()
        expected = original[name][:, fired] * factor.view(1, -1, 1, 1)
        torch.testing.assert_close(normed[name][:, fired], expected, rtol=1e-3, atol=1e-3)



def test_normalized_weights_are_computed_on_the_images_device():
    """Weights and images on another device than the CPU ("meta" stands in for a GPU in this
    CPU-only suite): the scales and the network's preprocessing buffers follow them (a CPU
    ``torch.ones(3)`` or buffer met them in an in-place division and raised)."""
    from coursekit.style.vgg import normalize_vgg19_weights

    raw = load_vgg19_weights("random")
    state = normalize_vgg19_weights({k: v.to("meta") for k, v in raw.items()},
                                    torch.rand(2, 3, 32, 32, device="meta"))
    assert state.keys() == raw.keys()
    assert all(v.device.type == "meta" and v.shape == raw[k].shape for k, v in state.items())

def test_channels_last_matches_the_default_layout():
    """Same features and input gradient in either layout (float64: in float32 the rounding flips
    a few ReLUs near zero, which shows in the gradient)."""
    state = load_vgg19_weights("random", generator=torch.Generator().manual_seed(1))
    x = torch.rand(2, 3, 32, 24, generator=torch.Generator().manual_seed(2), dtype=torch.float64,
                   requires_grad=True)
    layers = ["relu1_1", "conv3_2", "relu4_2", "relu5_1"]
    outs, grads = [], []
    for channels_last in (False, True):
        net = VGG19Features(state, pooling="avg", channels_last=channels_last).double()
        assert net.convs["conv2_1"].weight.is_contiguous(memory_format=torch.channels_last) == channels_last
        out = net(x, layers)
        (g,) = torch.autograd.grad(sum(a.square().mean() for a in out.values()), x)
        outs.append(out)
        grads.append(g)
    assert outs[1]["relu4_2"].is_contiguous(memory_format=torch.channels_last)
    for name in layers:
        torch.testing.assert_close(outs[1][name], outs[0][name])
    torch.testing.assert_close(grads[1], grads[0])


def test_on_layer_sees_each_requested_activation_in_forward_order(random_net):
    seen = []
    out = random_net(torch.rand(1, 3, 16, 16), ["relu3_1", "relu1_1"],
                     on_layer=lambda name, a: seen.append((name, a)))
    assert [name for name, _ in seen] == ["relu1_1", "relu3_1"]
    assert all(a is out[name] for name, a in seen)


def test_bfloat16_network_returns_bfloat16_activations_close_to_float32(random_net):
    """``net.to(torch.bfloat16)`` (what ``TransferConfig(precision="bfloat16")`` runs): the float32
    image is cast after preprocessing, activations agree with float32 to bfloat16's precision,
    and the gradient reaches the float32 image."""
    net16 = copy.deepcopy(random_net).to(torch.bfloat16)
    assert net16.convs["conv3_1"].weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3), requires_grad=True)
    layers = ["relu1_1", "relu3_1", "relu5_1"]
    out16, out32 = net16(x, layers), random_net(x, layers)
    for name in layers:
        assert out16[name].dtype == torch.bfloat16
        err = (out16[name].float() - out32[name]).norm() / out32[name].norm()
        assert err < 0.03, (name, err)
    (grad,) = torch.autograd.grad(out16["relu5_1"].float().sum(), x)
    assert grad.dtype == torch.float32 and grad.abs().sum() > 0
