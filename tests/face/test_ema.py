"""The weight EMA: the update formula by hand, constants stay put, the decay warm-up, training with it."""

import dataclasses

import pytest
import torch
from torch import nn

from coursekit.data import synthetic_faces
from coursekit.face import FaceEncoder, ModelEMA, TrainConfig, ema_decay_at, ema_update_, train_encoder


def _net(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))


def test_update_matches_the_formula():
    avg, live = _net(0), _net(1)
    before = {k: v.clone() for k, v in avg.state_dict().items()}
    live(torch.randn(8, 3))  # changes live's BatchNorm running statistics and its counter
    ema_update_(avg, live, decay=0.75)
    for key, a in avg.state_dict().items():
        w = live.state_dict()[key]
        if key.endswith("num_batches_tracked"):
            assert int(a) == int(w) == 1  # integer buffers are copied
        else:
            torch.testing.assert_close(a, 0.75 * before[key] + 0.25 * w)


@pytest.mark.parametrize("decay", [0.0, 0.5, 0.999])
def test_average_of_constant_weights_is_the_weights(decay):
    live = _net(2)
    ema = ModelEMA(live, decay=decay)
    for _ in range(20):
        ema.update(live)
    for key, w in live.state_dict().items():
        assert torch.equal(ema.module.state_dict()[key], w), key
    assert ema.num_updates == 20 and not ema.module.training
    assert all(not p.requires_grad for p in ema.module.parameters())


def test_decay_warm_up_and_two_updates_by_hand():
    assert ema_decay_at(0.99, 0) == pytest.approx(0.1)
    assert ema_decay_at(0.99, 5) == pytest.approx(6 / 15)
    assert ema_decay_at(0.9, 1000) == 0.9
    live = nn.Linear(1, 1, bias=False)
    live.weight.data.fill_(0.0)
    ema = ModelEMA(live, decay=0.9)
    live.weight.data.fill_(1.0)
    ema.update(live)  # d = 0.1: 0.1 * 0 + 0.9 * 1
    live.weight.data.fill_(2.0)
    ema.update(live)  # d = 2 / 11: (2/11) * 0.9 + (9/11) * 2
    assert ema.module.weight.item() == pytest.approx(2 / 11 * 0.9 + 9 / 11 * 2.0)
    torch.testing.assert_close(ema(torch.ones(1, 1)), ema.module.weight.detach())


def test_bad_input():
    with pytest.raises(ValueError, match="decay"):
        ModelEMA(nn.Linear(1, 1), decay=1.0)
    with pytest.raises(ValueError, match="decay"):
        ema_update_(nn.Linear(1, 1), nn.Linear(1, 1), decay=1.5)
    with pytest.raises(ValueError, match="shape"):
        ema_update_(nn.Linear(1, 2), nn.Linear(1, 3), decay=0.5)
    with pytest.raises(ValueError, match="keys"):
        ema_update_(nn.Linear(1, 1), nn.Linear(1, 1, bias=False), decay=0.5)
    with pytest.raises(ValueError, match="ema_decay"):
        TrainConfig(ema_decay=1.0)


def test_training_returns_the_average():
    """Same seed with and without the EMA: the same batches, so the live weights at the end are
    those of the run without it, and the returned encoder is their average instead."""
    ds = synthetic_faces(4, 3, 32, generator=torch.Generator().manual_seed(1))
    cfg = TrainConfig(epochs=3, people_per_batch=4, images_per_person=3, widths=(8, 8, 8, 8),
                      embedding_dim=8, aux_loss=None)
    runs = {}
    for decay in (0.0, 0.5):
        torch.manual_seed(0)
        enc = FaceEncoder(8, widths=(8, 8, 8, 8))
        out, hist = train_encoder(ds, dataclasses.replace(cfg, ema_decay=decay), encoder=enc, device="cpu",
                                  generator=torch.Generator().manual_seed(0), progress=False)
        assert out is enc
        runs[decay] = (out, hist["loss"])
    assert runs[0.0][1] == runs[0.5][1]  # the EMA does not change training itself
    assert not torch.equal(runs[0.0][0].head.weight, runs[0.5][0].head.weight)


def test_uniform_average_with_decay_n_over_n_plus_one():
    """The weight averaging of SWA: decay n / (n + 1) at the n-th update is the plain mean."""
    avg, live = nn.Linear(2, 1), nn.Linear(2, 1)
    values = [torch.randn(1, 2) for _ in range(4)]
    for n, v in enumerate(values):
        live.weight.data.copy_(v)
        ema_update_(avg, live, decay=n / (n + 1))
    torch.testing.assert_close(avg.weight.data, torch.stack(values).mean(0))


def test_swa_schedule_and_average():
    ds = synthetic_faces(8, 4, 32, generator=torch.Generator().manual_seed(2))
    cfg = TrainConfig(epochs=10, people_per_batch=4, images_per_person=3, widths=(8, 8, 8, 8),
                      embedding_dim=8, aux_loss=None, lr=1e-3, swa_fraction=0.3, swa_lr=0.2)
    enc, hist = train_encoder(ds, cfg, device="cpu", generator=torch.Generator().manual_seed(0),
                              progress=False)
    lrs = hist["lr"]  # 20 steps: cosine down to 0.2 lr at step 14, then constant
    assert lrs[0] == pytest.approx(1e-3) and all(a >= b for a, b in zip(lrs[:14], lrs[1:15]))
    assert lrs[14:] == pytest.approx([2e-4] * 6)
    plain, _ = train_encoder(ds, dataclasses.replace(cfg, swa_fraction=0.0), device="cpu",
                             generator=torch.Generator().manual_seed(0), progress=False)
    assert not torch.equal(enc.head.weight, plain.head.weight)
    with pytest.raises(ValueError, match="swa"):
        TrainConfig(swa_fraction=1.0)
    with pytest.raises(ValueError, match="not both"):
        TrainConfig(swa_fraction=0.5, ema_decay=0.9)
