"""Short training runs on tiny synthetic faces: the loss falls, runs reproduce, the loop is its step."""

import dataclasses
import math

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


def test_train_encoder_is_its_step_in_a_loop():
    """train_encoder = setup + train_step per batch: the same batches and seeds give the same weights."""
    from coursekit.face import PKSampler, train_step
    from coursekit.face.margin_softmax import MarginSoftmaxLoss

    ds = synthetic_faces(8, 4, 32, generator=torch.Generator().manual_seed(2))
    cfg = dataclasses.replace(TINY, epochs=2, aux_loss="arcface", lr=1e-3)
    out, hist = train_encoder(ds, cfg, device="cpu", generator=torch.Generator().manual_seed(0),
                              progress=False)
    g = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(2**62, (1,), generator=g)))
        enc = FaceEncoder(16, widths=(8, 16, 16, 32), input_size=32).train()
    sampler = PKSampler(ds.labels, 4, 3, generator=g)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(2**62, (1,), generator=g)))
        aux = MarginSoftmaxLoss(8, 16, kind="arcface", scale=30.0, margin=0.5, label_smoothing=0.3)
    opt = torch.optim.AdamW([*enc.parameters(), *aux.parameters()], lr=1e-3, weight_decay=1e-4)
    # 4 steps: a warm-up of one step, then the cosine
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / 4)))
    losses = []
    for _ in range(2):
        for idx in sampler:
            stats = train_step(enc, ds.images[idx], ds.labels[idx], opt, cfg, aux=aux, generator=g)
            losses.append(stats["loss"])
            sched.step()
    assert losses == hist["loss"]
    for (name, a), b in zip(out.state_dict().items(), enc.state_dict().values()):
        assert torch.equal(a, b), name


def test_train_step_without_triplets_or_aux_leaves_the_weights():
    from coursekit.face import train_step

    enc = FaceEncoder(8, widths=(4, 8), input_size=16)
    opt = torch.optim.AdamW(enc.parameters(), lr=1e-2)
    before = {k: v.clone() for k, v in enc.state_dict().items() if v.is_floating_point()}
    stats = train_step(enc, torch.rand(3, 1, 16, 16), torch.tensor([0, 1, 2]), opt,
                       dataclasses.replace(TINY, augment=False))  # nobody has a positive
    assert stats["num_triplets"] == 0 and stats["loss"] == 0.0
    for name, p in enc.named_parameters():
        assert torch.equal(p, before[name]), name


def test_training_leaves_the_accelerators_global_rngs_alone(monkeypatch):
    """The encoder's initialisation is seeded from the generator on the CPU only: the global
    CUDA RNG (dropout on a GPU, seed_everything's state) is not reseeded (torch.manual_seed
    would reseed it, and fork_rng(devices=[]) would not restore it)."""
    calls = []
    for module in (torch.cuda, getattr(torch, "mps", None), getattr(torch, "xpu", None)):
        if module is not None and hasattr(module, "manual_seed_all"):
            monkeypatch.setattr(module, "manual_seed_all", lambda seed, m=module: calls.append(m.__name__))
    if hasattr(torch.mps, "manual_seed"):
        monkeypatch.setattr(torch.mps, "manual_seed", lambda seed: calls.append("torch.mps"))
    ds = synthetic_faces(4, 3, 32, generator=torch.Generator().manual_seed(1))
    cfg = dataclasses.replace(TINY, epochs=1, aux_loss="arcface")
    state = torch.get_rng_state()
    train_encoder(ds, cfg, device="cpu", generator=torch.Generator().manual_seed(5), progress=False)
    assert calls == []
    assert torch.equal(torch.get_rng_state(), state)  # the CPU's global RNG as well
