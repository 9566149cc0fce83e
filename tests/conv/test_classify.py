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


def test_validation_keeps_the_best_epoch_and_flips_average():
    data = synthetic_adrenal(12, n_train=32, n_val=12, n_test=8)
    x, y = data.split("train")
    x_val, y_val = data.split("val")
    if set(y_val.tolist()) != {0, 1}:  # the synthetic split must hold both classes
        y_val = torch.arange(len(y_val)) % 2
    model = VolumeNet(width=4)
    hist = train_volume_classifier(model, x, y, num_epochs=3, batch_size=8, val=(x_val, y_val),
                                   flips=True, device="cpu",
                                   generator=torch.Generator().manual_seed(0), progress=False)
    assert len(hist["val_auc"]) == 3 and hist["best_epoch"] == [
        max(i for i, v in enumerate(hist["val_auc"]) if v == max(hist["val_auc"]))]
    from sklearn.metrics import roc_auc_score
    p = predict_proba(model, x_val, flips=True, device="cpu")[:, 1]
    assert abs(roc_auc_score(y_val.numpy(), p.numpy()) - max(hist["val_auc"])) < 1e-9
    # the flip average is the mean of the eight flipped predictions
    one = predict_proba(model, x_val.flip(3), device="cpu")
    assert not torch.allclose(p, one[:, 1])
    with pytest.raises(ValueError, match="both classes"):
        train_volume_classifier(model, x, y, num_epochs=1, val=(x_val, torch.zeros_like(y_val)),
                                progress=False)
    with pytest.raises(ValueError, match="val must be"):
        train_volume_classifier(model, x, y, num_epochs=1, val=(x_val[:, :, :4], y_val),
                                progress=False)
