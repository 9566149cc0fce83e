"""Short training runs on tiny synthetic faces: the loss falls, runs reproduce, each switch trains."""

import dataclasses

import pytest
import torch

from coursekit.data import synthetic_faces
from coursekit.face import FaceEncoder, TrainConfig, embed, train_encoder

# the triplet loss alone (the lecture's objective); the auxiliary loss is tested on its own below
TINY = TrainConfig(epochs=8, people_per_batch=4, images_per_person=3, lr=3e-3, widths=(8, 16, 16, 32),
                   embedding_dim=16, input_size=32, aux_loss=None)


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


def test_mined_triplet_training_reproduces_with_two_threads():
    # thousands of triplets gather the same few encodings: an advanced-indexing backward
    # (index_put with accumulate) adds them up in a thread-dependent order on the CPU
    ds = synthetic_faces(8, 6, 32, generator=torch.Generator().manual_seed(2))
    cfg = dataclasses.replace(TINY, epochs=3, people_per_batch=8, images_per_person=6,
                              strategy="all")
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        runs = [train_encoder(ds, cfg, device="cpu", generator=torch.Generator().manual_seed(5),
                              progress=False)[1]["loss"] for _ in range(2)]
    finally:
        torch.set_num_threads(threads)
    assert runs[0] == runs[1]


def test_history_records_each_loss_term():
    ds = synthetic_faces(8, 4, 32, generator=torch.Generator().manual_seed(2))
    cfg = dataclasses.replace(TINY, epochs=3, aux_loss="cosface", aux_weight=0.5)
    _, hist = train_encoder(ds, cfg, device="cpu", generator=torch.Generator().manual_seed(0), progress=False)
    steps = 3 * (8 // 4)
    for key in ("loss", "triplet_loss", "aux_loss", "active_fraction", "num_triplets", "lr"):
        assert len(hist[key]) == steps, key
    for key in ("epoch_loss", "epoch_triplet_loss", "epoch_aux_loss", "epoch_active_fraction"):
        assert len(hist[key]) == 3, key
    for total, tri, aux in zip(hist["loss"], hist["triplet_loss"], hist["aux_loss"]):
        assert aux > 0 and total == pytest.approx(tri + 0.5 * aux, rel=1e-5)
    assert hist["epoch_aux_loss"][0] == pytest.approx(sum(hist["aux_loss"][:2]) / 2)


def test_triplet_loss_alone():
    ds = synthetic_faces(8, 4, 32, generator=torch.Generator().manual_seed(2))
    cfg = dataclasses.replace(TINY, epochs=2)
    _, hist = train_encoder(ds, cfg, device="cpu", generator=torch.Generator().manual_seed(0), progress=False)
    assert hist["aux_loss"] == [0.0] * 4 and hist["loss"] == hist["triplet_loss"]


@pytest.mark.parametrize("aux_loss", ["cosface", "arcface", "softmax"])
def test_auxiliary_losses_fall(aux_loss):
    ds = synthetic_faces(8, 4, 32, generator=torch.Generator().manual_seed(3))
    cfg = dataclasses.replace(TINY, epochs=6, aux_loss=aux_loss, aux_scale=16.0, aux_margin=0.2)
    _, hist = train_encoder(ds, cfg, device="cpu", generator=torch.Generator().manual_seed(0), progress=False)
    assert sum(hist["aux_loss"][-3:]) < sum(hist["aux_loss"][:3])


def test_aux_label_smoothing_reaches_the_auxiliary_loss():
    """Same data, initialisation and batches: only the auxiliary term's value changes."""
    ds = synthetic_faces(8, 4, 32, generator=torch.Generator().manual_seed(2))
    runs = {}
    for eps in (0.0, 0.3):
        cfg = dataclasses.replace(TINY, epochs=1, aux_loss="arcface", aux_label_smoothing=eps)
        _, runs[eps] = train_encoder(ds, cfg, device="cpu", generator=torch.Generator().manual_seed(0),
                                     progress=False)
    assert runs[0.0]["triplet_loss"][0] == pytest.approx(runs[0.3]["triplet_loss"][0], rel=1e-6)
    assert runs[0.0]["aux_loss"][0] != pytest.approx(runs[0.3]["aux_loss"][0], rel=1e-3)
    assert TrainConfig().aux_label_smoothing == 0.3 and TINY.aux_loss is None


def test_mixed_auxiliary_term_and_erasing_train():
    ds = synthetic_faces(8, 4, 32, generator=torch.Generator().manual_seed(3))
    for mix in ("mixup", "cutmix"):
        cfg = dataclasses.replace(TINY, epochs=6, aux_loss="arcface", aux_scale=16.0, aux_margin=0.2,
                                  aux_mix=mix, erase_prob=0.5)
        _, hist = train_encoder(ds, cfg, device="cpu", generator=torch.Generator().manual_seed(0),
                                progress=False)
        assert sum(hist["aux_loss"][-3:]) < sum(hist["aux_loss"][:3]), mix
    with pytest.raises(ValueError, match="aux_mix"):
        TrainConfig(aux_mix="manifold")
    with pytest.raises(ValueError, match="erase_prob"):
        TrainConfig(erase_prob=1.5)


def test_precise_bn_recomputes_only_the_statistics():
    ds = synthetic_faces(8, 3, 32, generator=torch.Generator().manual_seed(4))
    cfg = dataclasses.replace(TINY, epochs=2)
    encs = {}
    for pbn in (None, "clean", "augmented"):
        encs[pbn], _ = train_encoder(ds, dataclasses.replace(cfg, precise_bn=pbn), device="cpu",
                                     generator=torch.Generator().manual_seed(0), progress=False)
    for name, p in encs[None].named_parameters():
        assert torch.equal(p, dict(encs["clean"].named_parameters())[name]), name
    bn1 = encs["clean"].features[1]
    assert not torch.equal(bn1.running_mean, encs[None].features[1].running_mean)
    assert not torch.equal(bn1.running_mean, encs["augmented"].features[1].running_mean)
    # the first BatchNorm's input does not depend on the other BatchNorms: its statistics are the
    # mean over the (two equal) batches of the clean training images' first convolution
    with torch.no_grad():
        x = torch.nn.functional.interpolate(ds.images, size=(32, 32), mode="area")
        m = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - m) / (x - m).pow(2).mean(dim=(1, 2, 3), keepdim=True).add(1e-5).sqrt()
        h = encs["clean"].features[0](x)
    torch.testing.assert_close(bn1.running_mean, h.mean(dim=(0, 2, 3)), atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="precise_bn"):
        TrainConfig(precise_bn="exact")
    with pytest.raises(ValueError, match="spread_weight"):
        TrainConfig(spread_weight=-1.0)


def test_soft_margin_batch_hard_is_softplus_of_the_same_difference():
    from coursekit.face._ablations import _batch_hard_soft
    from coursekit.face.triplet import _batch_hard

    z = torch.nn.functional.normalize(torch.randn(12, 8, generator=torch.Generator().manual_seed(0)), dim=1)
    y = torch.arange(4).repeat_interleave(3)
    soft, valid = _batch_hard_soft(z, y)
    hinge, valid0 = _batch_hard(z, y, 0.0)  # relu(x) with the same x = d(a, p) - d(a, n)
    assert torch.equal(valid, valid0)
    x = torch.where(hinge > 0, hinge, torch.log(torch.expm1(soft)))  # recover x where relu hid it
    torch.testing.assert_close(soft, torch.nn.functional.softplus(x))
    torch.testing.assert_close(soft - hinge, torch.log1p(torch.exp(-x.abs())))
    cfg = dataclasses.replace(TINY, epochs=3, soft_margin=True)
    _, hist = train_encoder(synthetic_faces(8, 4, 32, generator=torch.Generator().manual_seed(2)), cfg,
                            device="cpu", generator=torch.Generator().manual_seed(0), progress=False)
    assert all(v > 0 for v in hist["triplet_loss"])  # a soft margin is never exactly satisfied


def test_semihard_warmup_changes_only_the_first_steps():
    ds = synthetic_faces(8, 4, 32, generator=torch.Generator().manual_seed(2))
    runs = {}
    for warm in (0.0, 0.5, 1.0):
        cfg = dataclasses.replace(TINY, epochs=4, semihard_warmup=warm)
        _, runs[warm] = train_encoder(ds, cfg, device="cpu", generator=torch.Generator().manual_seed(0),
                                      progress=False)
    _, semi = train_encoder(ds, dataclasses.replace(TINY, epochs=4, strategy="semihard"), device="cpu",
                            generator=torch.Generator().manual_seed(0), progress=False)
    assert runs[1.0]["loss"] == semi["loss"]  # all steps semi-hard: the semi-hard run
    assert runs[0.5]["loss"][:4] == semi["loss"][:4]  # first half semi-hard
    assert runs[0.5]["loss"][4:] != semi["loss"][4:] and runs[0.0]["loss"] != semi["loss"]
    # the batch-hard loss counts one triplet per anchor (8 people x 3 photos / 2 batches: 12)
    assert runs[0.5]["num_triplets"][4:] == [12] * 4
    with pytest.raises(ValueError, match="semihard_warmup"):
        TrainConfig(semihard_warmup=1.5)
