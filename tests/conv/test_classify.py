"""train_volume_classifier and predict_proba: a training smoke test, the shift augmentation,
validation scores per epoch, bad arguments."""

from __future__ import annotations

import pytest
import torch
from sklearn.metrics import roc_auc_score

from coursekit.conv import VolumeNet, predict_proba, train_volume_classifier
from coursekit.conv.classify import _random_flips, _random_shifts
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


@pytest.mark.parametrize("max_shift", [1, 2])
def test_random_shifts_translate_each_volume_within_max_shift(max_shift):
    x = torch.zeros(6, 2, 9, 10, 11)
    x[:, :, 3:6, 4:6, 4:7] = torch.rand(6, 2, 3, 2, 3, generator=torch.Generator().manual_seed(1))
    out = _random_shifts(x, max_shift, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    seen = set()
    for i in range(len(x)):
        # each volume is its own copy of the input moved by one (a, b, c) with |a|, |b|, |c| <= m
        matches = [(a, b, c) for a in range(-max_shift, max_shift + 1)
                   for b in range(-max_shift, max_shift + 1) for c in range(-max_shift, max_shift + 1)
                   if torch.equal(out[i], x[i].roll((a, b, c), dims=(1, 2, 3)))]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) > 1  # volumes move independently
    again = _random_shifts(x, max_shift, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, again)  # the generator decides


@pytest.mark.parametrize("max_shift", [1, 2])
def test_random_shifts_and_flips_equal_the_per_volume_loop(max_shift):
    """The batched gather and where against one volume at a time, replaying the same draws:
    equal to the bit (both only copy values); non-cubic volumes, two channels."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(7, 2, 5, 6, 7, generator=g)
    m = max_shift
    shifts = torch.randint(-m, m + 1, (7, 3), generator=torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(x, (m,) * 6)
    expected = torch.stack([padded[i, :, m + a:m + a + 5, m + b:m + b + 6, m + c:m + c + 7]
                            for i, (a, b, c) in enumerate(shifts.tolist())])
    assert torch.equal(_random_shifts(x, m, torch.Generator().manual_seed(0)), expected)
    flips = torch.rand(7, 3, generator=torch.Generator().manual_seed(0)) < 0.5
    expected = torch.stack([v.flip([1 + a for a in range(3) if flips[i, a]]) for i, v in enumerate(x)])
    assert torch.equal(_random_flips(x, torch.Generator().manual_seed(0)), expected)


def test_random_shifts_fill_zeros_at_the_border():
    x = torch.ones(20, 1, 5, 5, 5)
    out = _random_shifts(x, 2, torch.Generator().manual_seed(0))
    assert out.sum() < x.sum() and set(out.unique().tolist()) == {0.0, 1.0}


def test_validation_is_scored_every_epoch_and_the_last_weights_are_kept():
    data = synthetic_adrenal(12, n_train=32, n_val=12, n_test=8)
    x, y = data.split("train")
    x_val, y_val = data.split("val")
    if set(y_val.tolist()) != {0, 1}:  # the synthetic split must hold both classes
        y_val = torch.arange(len(y_val)) % 2
    model = VolumeNet(width=4)
    hist = train_volume_classifier(model, x, y, num_epochs=3, batch_size=8, val=(x_val, y_val),
                                   flips=True, device="cpu",
                                   generator=torch.Generator().manual_seed(0), progress=False)
    assert len(hist["val_auc"]) == 3 and "best_epoch" not in hist
    p = predict_proba(model, x_val, flips=True, device="cpu")[:, 1]
    assert abs(roc_auc_score(y_val.numpy(), p.numpy()) - hist["val_auc"][-1]) < 1e-9  # the last epoch
    # the flip average is the mean of the eight flipped predictions
    one = predict_proba(model, x_val.flip(3), device="cpu")
    assert not torch.allclose(p, one[:, 1])
    with pytest.raises(ValueError, match="both classes"):
        train_volume_classifier(model, x, y, num_epochs=1, val=(x_val, torch.zeros_like(y_val)),
                                progress=False)
    with pytest.raises(ValueError, match="max_shift"):
        train_volume_classifier(model, x, y, num_epochs=1, max_shift=-1, progress=False)
    with pytest.raises(ValueError, match="val must be"):
        train_volume_classifier(model, x, y, num_epochs=1, val=(x_val[:, :, :4], y_val),
                                progress=False)


def test_scoring_validation_does_not_change_the_training():
    data = synthetic_adrenal(12, n_train=16, n_val=8, n_test=2)
    x, y = data.split("train")
    x_val = data.split("val")[0]
    y_val = torch.arange(len(x_val)) % 2
    models = []
    for val in (None, (x_val, y_val)):
        torch.manual_seed(0)
        models.append(VolumeNet(width=2))
        train_volume_classifier(models[-1], x, y, num_epochs=2, batch_size=8, val=val, device="cpu",
                                generator=torch.Generator().manual_seed(0), progress=False)
    for a, b in zip(models[0].state_dict().values(), models[1].state_dict().values()):
        torch.testing.assert_close(a, b)
