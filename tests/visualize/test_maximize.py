"""Activation maximisation raises the unit it targets and returns a valid image."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from coursekit.style.vgg import vgg19_features
from coursekit.visualize.activations import layer_activations
from coursekit.visualize.maximize import activation_maximization, fourier_image


def _unit_mean(model, image, layer, unit):
    with torch.no_grad():
        return float(layer_activations(model, image[None], [layer])[layer][0, unit].mean())


def test_increases_the_activation_vgg(device):
    net = vgg19_features("random", device=device, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    img = activation_maximization(net, "relu2_1", 5, 20, size=32, generator=g, device=device,
                                  progress=False)
    assert img.shape == (3, 32, 32) and img.device.type == device.type
    assert 0.0 <= float(img.min()) and float(img.max()) <= 1.0
    grey = torch.full((3, 32, 32), 0.5, device=device)
    noise = torch.rand(3, 32, 32, generator=g).to(device)
    after = _unit_mean(net, img, "relu2_1", 5)
    assert after > 2 * max(_unit_mean(net, grey, "relu2_1", 5), _unit_mean(net, noise, "relu2_1", 5))


def test_center_objective_sequential_grey_input_leaves_weights_alone():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Conv2d(4, 6, 3, padding=1), nn.ReLU()).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    # layer "4" is the conv before the ReLU: a dead ReLU unit would give no gradient at all
    img = activation_maximization(net, "4", 2, 15, size=(20, 16), objective="center", jitter=0,
                                  progress=False)
    assert img.shape == (1, 20, 16)
    assert net.training and all(p.grad is None for p in net.parameters())
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, before[k])  # BN running stats untouched (eval mode)
    net.eval()
    with torch.no_grad():
        centre = lambda x: float(layer_activations(net, x[None], ["4"])["4"][0, 2, 5, 4].detach())  # noqa: E731
    assert centre(img) > centre(torch.full((1, 20, 16), 0.5))


def test_deterministic_with_generator():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    a = activation_maximization(net, "1", 1, 5, size=16, generator=torch.Generator().manual_seed(3),
                                progress=False)
    b = activation_maximization(net, "1", 1, 5, size=16, generator=torch.Generator().manual_seed(3),
                                progress=False)
    torch.testing.assert_close(a, b)


def test_frequency_penalty_makes_smoother_images():
    g = torch.Generator().manual_seed(0)
    spectrum = torch.randn(2, 3, 32, 17, generator=g)

    def roughness(x):  # neighbour differences relative to the overall contrast
        return float((x[:, 1:] - x[:, :-1]).abs().mean() / x.std())

    flat = fourier_image(spectrum * 0.05, (32, 32), decay_power=0.0)
    smooth = fourier_image(spectrum * 0.05, (32, 32), decay_power=1.5)
    assert roughness(smooth) < roughness(flat)


def test_errors():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    with pytest.raises(ValueError, match="4 units"):
        activation_maximization(net, "1", 4, 2, size=8, progress=False)
    with pytest.raises(ValueError, match="objective"):
        activation_maximization(net, "1", 0, 2, size=8, objective="max", progress=False)
    with pytest.raises(ValueError, match="num_steps"):
        activation_maximization(net, "1", 0, 0, size=8, progress=False)
    with pytest.raises(ValueError, match="spectrum"):
        fourier_image(torch.zeros(2, 3, 8, 8), (8, 8))
