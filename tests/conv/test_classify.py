"""train_volume_classifier and predict_proba: a training smoke test and bad labels."""

from __future__ import annotations

import pytest
import torch

from coursekit.conv import VolumeNet, predict_proba, train_volume_classifier
from coursekit.data import synthetic_adrenal


def test_volume_classifier_trains():
    data = synthetic_adrenal(12, n_train=32, n_val=2, n_test=8)
    x, y = data.split("train")
    model = VolumeNet(width=4)
    hist = train_volume_classifier(model, x, y, num_epochs=2, batch_size=8, device="cpu",
                                   generator=torch.Generator().manual_seed(0), progress=False)
    assert len(hist["epoch_loss"]) == 2 and len(hist["loss"]) == 8
    p = predict_proba(model, data.split("test")[0], device="cpu")
    torch.testing.assert_close(p.sum(1), torch.ones(8))
    with pytest.raises(ValueError, match="labels"):
        train_volume_classifier(model, x, y[:3], progress=False)
