"""VGG19's named-layer geometry (``coursekit.visualize.vgg_fields``): the same fields as
torchvision's VGG19 read layer by layer, the sizes our feature extractor produces, and a real
network's input gradient staying inside the field."""

from __future__ import annotations

import pytest
import torch
import torchvision

from coursekit.visualize.receptive_fields import receptive_fields
from coursekit.visualize.vgg_fields import vgg19_layer_specs, vgg19_receptive_fields


def test_unknown_pooling():
    with pytest.raises(ValueError, match="pooling"):
        vgg19_layer_specs(pooling="min")
    assert [s.kind for s in vgg19_layer_specs(pooling="avg")] == [s.kind for s in vgg19_layer_specs()]


def test_vgg19_named_layers_match_torchvision_architecture():
    features = torchvision.models.vgg19(weights=None).features
    by_index = list(receptive_fields(features, 64).values())
    named = [f for n, f in vgg19_receptive_fields(64).items() if not n.startswith("relu")]
    convs_pools = [f for f in by_index if f.kind != "pointwise"]
    assert [(f.size, f.jump, f.start, f.output_size) for f in convs_pools] == \
        [(f.size, f.jump, f.start, f.output_size) for f in named]
    assert len(vgg19_layer_specs()) == len(features)


def test_real_vgg19_gradient_stays_inside_the_field():
    torch.manual_seed(0)
    features = torchvision.models.vgg19(weights=None).features[:21].eval()  # up to relu4_1
    f = vgg19_receptive_fields(96)["relu4_1"]
    x = torch.rand(1, 3, 96, 96, requires_grad=True)
    y = features(x)
    assert tuple(y.shape[-2:]) == f.output_size
    c = int(y[0, :, 6, 5].argmax())  # an active unit, so the gradient is not zero
    y[0, c, 6, 5].backward()
    nz = x.grad[0].abs().sum(0) != 0
    rows = torch.nonzero(nz.any(1)).flatten()
    cols = torch.nonzero(nz.any(0)).flatten()
    top, left, bottom, right = f.box(6, 5, 96)
    assert rows.numel() > 0
    assert top <= rows.min() and rows.max() < bottom and left <= cols.min() and cols.max() < right


def test_vgg19_output_sizes_match_the_feature_extractor():
    from coursekit.style.vgg import VGG19_LAYERS, vgg19_features

    net = vgg19_features("random", device="cpu")
    size = (50, 38)  # odd sides: pooling floors
    fields = vgg19_receptive_fields(size)
    assert list(fields) == list(VGG19_LAYERS)
    with torch.no_grad():
        out = net(torch.rand(1, 3, *size), list(VGG19_LAYERS))
    for name, act in out.items():
        assert tuple(act.shape[-2:]) == fields[name].output_size, name
