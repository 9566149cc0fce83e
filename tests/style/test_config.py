"""TransferConfig: validation and derived sizes."""

from __future__ import annotations

import pytest

from coursekit.style import TransferConfig


@pytest.mark.parametrize("kw, match", [
    ({"optimizer": "sgd"}, "optimizer"),
    ({"init": "zeros"}, "init"),
    ({"scales": (64, 32)}, "increasing"),
    ({"style_layer_weights": (1.0,)}, "one λ per layer"),
    ({"beta": -1.0}, ">= 0"),
])
def test_config_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        TransferConfig(**kw)


def test_sizes_and_layer_weights():
    assert TransferConfig(size=64).sizes == (64,)
    assert TransferConfig(scales=(32, 64), num_steps=5).steps_total == 10
    lam = TransferConfig(style_layers=("relu1_1", "relu2_1")).layer_weights
    assert lam == {"relu1_1": 0.5, "relu2_1": 0.5}


def test_defaults_are_the_lecture_weights():
    cfg = TransferConfig()
    assert (cfg.alpha, cfg.beta) == (10.0, 40.0)


@pytest.mark.parametrize("kw, shape, n_styles, content, match", [
    ({"content_layer": "relu9_1"}, (40, 40), 1, True, "unknown VGG19 layer 'relu9_1'"),
    ({"style_layers": ("relu1_1", "conv6")}, (40, 40), 1, True, "unknown VGG19 layer 'conv6'"),
    ({"style_blend": (1.0, 2.0)}, (40, 40), 1, True, "style_blend has 2 weights for 1 style images"),
    ({"preserve_colors": True}, (40, 40), 1, False, "preserve_colors needs a content image"),
    ({}, (40, 40), 0, False, "give a content image, a style image, or both"),
    ({"size": 8}, (40, 80), 1, True, "too small for layers up to relu5_1: the image would be 4x8 px"),
])
def test_check_refuses_a_run_it_cannot_make(kw, shape, n_styles, content, match):
    with pytest.raises(ValueError, match=match):
        TransferConfig(**kw).check(shape, n_styles, content=content)


def test_check_returns_the_shape_per_scale_and_ignores_unused_layers():
    assert TransferConfig(scales=(32, 64)).check((30, 60), 1) == [(16, 32), (32, 64)]
    # content reconstruction at relu3_1 needs 4 px per side only: the style layers are off
    assert TransferConfig(size=8, content_layer="relu3_1", beta=0.0).check((40, 80), 0) == [(4, 8)]
