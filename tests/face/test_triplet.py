"""triplet_loss and batch_hard_triplet_loss against loops and torch.nn.TripletMarginLoss."""

import pytest
import torch

from coursekit.face import batch_hard_triplet_loss, triplet_loss


def _triplet_naive(a, p, n, alpha):
    return [max(float(((a[i] - p[i]) ** 2).sum() - ((a[i] - n[i]) ** 2).sum()) + alpha, 0.0)
            for i in range(len(a))]


def _batch_hard_naive(e, labels, alpha):
    out, valid = [], []
    for i in range(len(e)):
        dp = [float(((e[i] - e[j]) ** 2).sum()) for j in range(len(e)) if j != i and labels[j] == labels[i]]
        dn = [float(((e[i] - e[j]) ** 2).sum()) for j in range(len(e)) if labels[j] != labels[i]]
        if dp and dn:
            out.append(max(max(dp) - min(dn) + alpha, 0.0))
            valid.append(True)
        else:
            out.append(0.0)
            valid.append(False)
    return out, valid


@pytest.mark.parametrize("b", [1, 3, 17])
@pytest.mark.parametrize("alpha", [0.0, 0.2, 1.0])
def test_triplet_matches_loop(b, alpha, dtype, device):
    g = torch.Generator().manual_seed(b)
    a, p, n = (torch.randn(b, 5, generator=g, dtype=dtype) for _ in range(3))
    ref = torch.tensor(_triplet_naive(a, p, n, alpha), dtype=dtype)
    a, p, n = a.to(device), p.to(device), n.to(device)
    none = triplet_loss(a, p, n, alpha, reduction="none")
    assert none.shape == (b,) and none.device.type == device.type
    torch.testing.assert_close(none.cpu(), ref)
    torch.testing.assert_close(triplet_loss(a, p, n, alpha).cpu(), ref.sum())  # default: the sum J
    torch.testing.assert_close(triplet_loss(a, p, n, alpha, reduction="mean").cpu(), ref.mean())


def test_zero_when_margin_holds_and_nonnegative():
    a = torch.zeros(4, 3)
    p = torch.full((4, 3), 0.1)
    n = torch.full((4, 3), 1.0)
    assert float(triplet_loss(a, p, n, alpha=0.2)) == 0.0
    x = torch.randn(3, 50, 4)
    assert bool((triplet_loss(x[0], x[1], x[2], reduction="none") >= 0).all())


def test_empty_batch_is_zero_not_nan():
    e = torch.zeros(0, 4)
    assert float(triplet_loss(e, e, e)) == 0.0
    assert float(triplet_loss(e, e, e, reduction="mean")) == 0.0


def test_agrees_with_torch_triplet_losses():
    """torch's TripletMarginWithDistanceLoss with a squared-L2 distance is exactly the lecture's
    loss; torch.nn.TripletMarginLoss (plain L2) is our loss fed with sqrt-distances in 1-D."""
    g = torch.Generator().manual_seed(0)
    a, p, n = (torch.randn(10, 6, generator=g, dtype=torch.float64) for _ in range(3))
    sq = torch.nn.TripletMarginWithDistanceLoss(
        distance_function=lambda x, y: ((x - y) ** 2).sum(1), margin=0.3, reduction="sum")
    torch.testing.assert_close(triplet_loss(a, p, n, alpha=0.3), sq(a, p, n))
    plain = torch.nn.TripletMarginLoss(margin=0.3, p=2, eps=0.0, reduction="mean")(a, p, n)
    zero = torch.zeros(10, 1, dtype=torch.float64)
    d_ap, d_an = (a - p).norm(dim=1, keepdim=True), (a - n).norm(dim=1, keepdim=True)
    # ||0 - sqrt(d)||^2 = d: our squared loss on these 1-D points is max(d_ap - d_an + alpha, 0)
    ours = triplet_loss(zero, d_ap.sqrt(), d_an.sqrt(), alpha=0.3, reduction="mean")
    torch.testing.assert_close(ours, plain)


def test_batch_hard_equals_triplet_loss_on_hardest_triplets_and_torch():
    """Batch-hard loss = the triplet loss on each anchor's hardest triplet; with squared=False it
    equals torch.nn.TripletMarginLoss on those triplets (both then use plain L2)."""
    g = torch.Generator().manual_seed(1)
    e = torch.randn(12, 4, generator=g, dtype=torch.float64)
    labels = torch.arange(4).repeat_interleave(3)
    from coursekit.face import mine_triplets

    a, p, n = mine_triplets(e, labels, "batch_hard")
    torch.testing.assert_close(batch_hard_triplet_loss(e, labels, 0.2, reduction="sum"),
                               triplet_loss(e[a], e[p], e[n], 0.2))
    a, p, n = mine_triplets(e, labels, "batch_hard")  # same anchors; plain-L2 hardest agree (monotone)
    ref = torch.nn.TripletMarginLoss(margin=0.2, eps=0.0)(e[a], e[p], e[n])
    torch.testing.assert_close(batch_hard_triplet_loss(e, labels, 0.2, squared=False), ref)


@pytest.mark.parametrize("seed", range(4))
def test_batch_hard_matches_loop(seed, dtype, device):
    g = torch.Generator().manual_seed(seed)
    e = torch.randn(10, 3, generator=g, dtype=dtype)
    labels = torch.randint(0, 3 + seed, (10,), generator=g)
    ref, valid = _batch_hard_naive(e, labels, 0.5)
    got = batch_hard_triplet_loss(e.to(device), labels.to(device), 0.5, reduction="none")
    torch.testing.assert_close(got.cpu(), torch.tensor(ref, dtype=dtype))
    mean = batch_hard_triplet_loss(e.to(device), labels.to(device), 0.5)
    torch.testing.assert_close(mean.cpu(), torch.tensor(sum(ref) / max(sum(valid), 1), dtype=dtype))


def test_batch_hard_ties():
    e = torch.tensor([[0.0], [1.0], [1.0], [2.0]])  # anchor 1: positive at d=1 and negative at d=0
    labels = torch.tensor([0, 0, 1, 1])
    ref, _ = _batch_hard_naive(e, labels, 0.2)
    torch.testing.assert_close(batch_hard_triplet_loss(e, labels, reduction="none"), torch.tensor(ref))


@pytest.mark.parametrize("labels", [[0, 0, 0, 0], [0, 1, 2, 3], [5]])
def test_batch_hard_without_valid_triplet_is_zero(labels):
    e = torch.randn(len(labels), 3, requires_grad=True)
    loss = batch_hard_triplet_loss(e, torch.tensor(labels))
    assert float(loss.detach()) == 0.0 and not torch.isnan(loss.detach())
    loss.backward()
    assert bool(torch.isfinite(e.grad).all())


def test_gradcheck():
    g = torch.Generator().manual_seed(3)
    a, p, n = (torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3))
    assert torch.autograd.gradcheck(lambda x, y, z: triplet_loss(x, y, z, alpha=1.0), (a, p, n))
    e = torch.randn(6, 3, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    assert torch.autograd.gradcheck(lambda x: batch_hard_triplet_loss(x, labels, alpha=2.0), (e,))


def test_errors():
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(3, 5\)"):
        triplet_loss(torch.zeros(3, 4), torch.zeros(3, 5), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="reduction"):
        triplet_loss(torch.zeros(3, 4), torch.zeros(3, 4), torch.zeros(3, 4), reduction="max")
    with pytest.raises(ValueError, match=r"\(4,\)"):
        batch_hard_triplet_loss(torch.zeros(4, 2), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(B, E\)"):
        batch_hard_triplet_loss(torch.zeros(4), torch.zeros(4, dtype=torch.long))


@pytest.mark.parametrize("alpha", [-1.0, float("nan"), float("inf"), True, "0.2"])
def test_alpha_must_be_a_finite_margin(alpha):
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="alpha"):
        triplet_loss(x, x, x, alpha=alpha)
    with pytest.raises(ValueError, match="alpha"):
        batch_hard_triplet_loss(x, torch.tensor([0, 1]), alpha=alpha)


def test_float_labels_are_refused():
    with pytest.raises(ValueError, match="integers"):
        batch_hard_triplet_loss(torch.zeros(3, 2), torch.tensor([0.0, 0.4, 1.0]))


def test_batch_hard_takes_labels_from_another_device():
    """Labels may live elsewhere than the encodings (a CPU label tensor with CUDA encodings):
    the masks are made on the encodings' device. Here "meta" stands in for the other device,
    the one this CPU-only suite has; torch.where refuses mixed devices on both."""
    e = torch.randn(6, 3, device="meta")
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    none = batch_hard_triplet_loss(e, labels, reduction="none")
    assert none.device.type == "meta" and none.shape == (6,)
    assert batch_hard_triplet_loss(e, labels).device.type == "meta"
