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
    ({"content_normalization": "paper"}, "content_normalization"),
])
def test_config_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        TransferConfig(**kw)


def test_sizes_and_layer_weights():
    assert TransferConfig(size=64).sizes == (64,)
    assert TransferConfig(scales=(32, 64), num_steps=5).steps_total == 10
    lam = TransferConfig(style_layers=("relu1_1", "relu2_1")).layer_weights
    assert lam == {"relu1_1": 0.5, "relu2_1": 0.5}
