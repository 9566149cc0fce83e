"""Volume loaders: AdrenalMNIST3D, CT head, MNI152 locally; synthetic fallbacks offline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from coursekit.data import head_phantom, load_adrenalmnist3d, load_ct_head, load_mni152, synthetic_adrenal
from coursekit.data.sources import local_file


@pytest.mark.skipif(local_file("volumes/adrenalmnist3d.npz") is None, reason="no local AdrenalMNIST3D")
def test_adrenal_local_official_split():
    data = load_adrenalmnist3d(28)
    assert data.source == "local" and data.size == 28
    counts = {}
    for split in ("train", "val", "test"):
        x, y = data.split(split)
        assert x.shape[1:] == (1, 28, 28, 28) and x.dtype == torch.float32
        assert set(torch.unique(x).tolist()) <= {0.0, 1.0}
        counts[split] = (len(y), int(y.sum()))
    assert counts["train"] == (1188, 259) and counts["test"] == (298, 69) and counts["val"][0] == 98


@pytest.mark.skipif(local_file("volumes/adrenalmnist3d_64.npz") is None, reason="no local 64^3 file")
def test_adrenal_64_local():
    x, y = load_adrenalmnist3d(64).split("val")
    assert x.shape == (98, 1, 64, 64, 64)


@pytest.mark.skipif(local_file("volumes/ct_head_unc_10slices.npz") is None, reason="no local CT head")
def test_ct_and_mni_local():
    ct = load_ct_head()
    assert ct.source == "local" and ct.volume.shape == (10, 256, 256)
    assert ct.volume.min() == 0.0 and ct.volume.max() == 1.0
    mni = load_mni152()
    assert mni.source == "local" and mni.volume.shape == (197, 233, 189)


def test_fallbacks(no_data, capsys):
    data = load_adrenalmnist3d(28)
    assert data.source == "synthetic"
    x, y = data.split("test")
    assert x.shape[1:] == (1, 28, 28, 28) and set(y.unique().tolist()) == {0, 1}
    ct = load_ct_head()
    assert ct.source == "synthetic" and ct.volume.shape == (10, 256, 256)
    err = capsys.readouterr().err
    assert "adrenalmnist3d: using the synthetic fallback" in err and "ct_head" in err


def test_synthetic_classes_differ_in_volume():
    data = synthetic_adrenal(20, n_train=60, n_val=2, n_test=2, seed=1)
    x, y = data.split("train")
    size = x.flatten(1).sum(1)
    assert size[y == 1].mean() > size[y == 0].mean()


def test_head_phantom_and_bad_arguments():
    v = head_phantom((6, 40, 40))
    assert v.dtype == np.float32 and v.min() == 0.0 and v.max() == 1.0
    with pytest.raises(ValueError, match="size must be 28 or 64"):
        load_adrenalmnist3d(32)
    with pytest.raises(ValueError, match="split must be"):
        synthetic_adrenal(8, n_train=1, n_val=1, n_test=1).split("dev")
