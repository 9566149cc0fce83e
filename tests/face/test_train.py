"""PKSampler, augmentation, embed and a short training run on tiny synthetic faces."""

import dataclasses

import pytest
import torch

from coursekit.data import synthetic_faces
from coursekit.face import FaceEncoder, PKSampler, TrainConfig, augment_faces, embed, train_encoder

TINY = TrainConfig(epochs=8, people_per_batch=4, images_per_person=3, lr=3e-3, widths=(8, 16, 16, 32),
                   embedding_dim=16, input_size=32)


def test_pk_sampler_batches():
    labels = torch.tensor([0] * 5 + [1] * 2 + [2] * 4 + [3] * 1)
    sampler = PKSampler(labels, 2, 3, generator=torch.Generator().manual_seed(0))
    batches = list(sampler)
    assert len(batches) == len(sampler) == 2
    seen = set()
    for b in batches:
        assert b.shape == (6,)
        people = labels[b].tolist()
        assert people[:3] == [people[0]] * 3 and people[3:] == [people[3]] * 3 and people[0] != people[3]
        seen |= set(people)
    assert seen == {0, 1, 2, 3}  # every person once per epoch
    again = list(PKSampler(labels, 2, 3, generator=torch.Generator().manual_seed(0)))
    assert all(torch.equal(x, y) for x, y in zip(batches, again))
    with pytest.raises(ValueError):
        PKSampler(torch.zeros(5, dtype=torch.long), 2, 2)


def test_augment_shapes_range_and_seed(device):
    x = torch.rand(6, 1, 32, 32, device=device)
    a = augment_faces(x, generator=torch.Generator().manual_seed(0))
    b = augment_faces(x, generator=torch.Generator().manual_seed(0))
    assert a.shape == x.shape and a.device.type == device.type
    assert torch.equal(a, b) and not torch.equal(a, x)
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    still = augment_faces(x, max_shift=0, max_rotation=0, max_zoom=0, flip=False, brightness=0,
                          contrast=0)
    torch.testing.assert_close(still, x, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match=r"\(1, 32, 32\)"):
        augment_faces(x[0])


def test_embed_batches_mode_and_device():
    enc = FaceEncoder(embedding_dim=8, widths=(4, 4, 4, 4)).train()
    x = torch.rand(7, 1, 32, 32)
    z = embed(enc, x, batch_size=3)
    assert z.shape == (7, 8) and not z.requires_grad
    assert enc.training  # mode restored
    torch.testing.assert_close(z, enc.eval()(x).detach())
    assert embed(enc, x[0]).shape == (8,)
    assert embed(enc, x[:0]).shape == (0, 8)


@pytest.mark.parametrize("strategy", ["batch_hard", "semihard"])
def test_training_lowers_the_loss(strategy):
    ds = synthetic_faces(8, 6, 32, generator=torch.Generator().manual_seed(0))
    cfg = dataclasses.replace(TINY, strategy=strategy)
    enc, hist = train_encoder(ds, cfg, device="cpu", generator=torch.Generator().manual_seed(0),
                              progress=False)
    steps = cfg.epochs * (8 // 4)
    assert len(hist["loss"]) == len(hist["active_fraction"]) == steps
    assert len(hist["epoch_loss"]) == cfg.epochs
    assert all(0.0 <= f <= 1.0 for f in hist["active_fraction"])
    def early_late(key):
        return sum(hist[key][:4]) / 4, sum(hist[key][-4:]) / 4

    first, last = early_late("active_fraction")  # fewer triplets violate the margin
    assert last < first
    if strategy == "batch_hard":  # (a semi-hard loss is over ever-new triplets: not monotone)
        first, last = early_late("loss")
        assert last < first
    assert not enc.training
    z = embed(enc, ds.images)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(len(ds)))


def test_training_is_reproducible_and_continues_an_encoder():
    ds = synthetic_faces(4, 3, 32, generator=torch.Generator().manual_seed(1))
    cfg = dataclasses.replace(TINY, epochs=2)
    runs = [train_encoder(ds, cfg, device="cpu", generator=torch.Generator().manual_seed(5),
                          progress=False)[1]["loss"] for _ in range(2)]
    assert runs[0] == runs[1]
    enc = FaceEncoder(16, widths=(8, 16, 16, 32), input_size=32)
    out, _ = train_encoder(ds, cfg, encoder=enc, device="cpu", progress=False)
    assert out is enc


def test_config_validation():
    with pytest.raises(ValueError, match="strategy"):
        TrainConfig(strategy="hardest")
    with pytest.raises(ValueError):
        TrainConfig(epochs=0)
