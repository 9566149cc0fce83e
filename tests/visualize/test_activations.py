"""layer_activations against a hand-run forward pass, and the shared helpers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from coursekit.style.vgg import vgg19_features
from coursekit.visualize import eval_mode, layer_activations, layer_fields
from coursekit.visualize.vgg_fields import vgg19_receptive_fields


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
                         nn.Conv2d(4, 5, 3), nn.ReLU(inplace=True))


def test_sequential_equals_a_hand_run_forward_despite_inplace_relus():
    net = _net().eval()
    x = torch.randn(2, 3, 10, 10, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = layer_activations(net, x, ["0", "2", "4"])
        conv0 = net[0](x)  # before the in-place ReLU overwrote it
        pooled = nn.functional.max_pool2d(conv0.clamp(min=0), 2)
        last = net[3](pooled).clamp(min=0)
    assert list(out) == ["0", "2", "4"]
    torch.testing.assert_close(out["0"], conv0)
    torch.testing.assert_close(out["2"], pooled)
    torch.testing.assert_close(out["4"], last)
    assert (out["0"] < 0).any()  # the copy kept the pre-ReLU values


def test_feature_model_is_called_with_the_layers():
    net = vgg19_features("random", device="cpu")
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        out = layer_activations(net, x, ["relu2_1", "relu1_1"])
        direct = net(x, ["relu2_1", "relu1_1"])
    assert set(out) == {"relu1_1", "relu2_1"}
    torch.testing.assert_close(out["relu2_1"], direct["relu2_1"])


def test_unknown_layer_names_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown layer\(s\) \['9'\].*'0'"):
        layer_activations(_net(), torch.rand(1, 3, 8, 8), ["9"])


def test_eval_mode_restores_training_and_geometry_matches_receptive_fields():
    net = _net().train()
    with eval_mode(net):
        assert not net.training
    assert net.training
    vgg = vgg19_features("random", device="cpu")
    assert layer_fields(vgg, ["relu3_1"], (64, 64))["relu3_1"] == vgg19_receptive_fields(64)["relu3_1"]
    with pytest.raises(ValueError, match="fields="):
        layer_fields(object(), ["a"], (8, 8))
