"""mine_triplets against brute-force loops for every strategy, ties, and empty batches."""

import pytest
import torch

from coursekit.face import MINING_STRATEGIES, mine_triplets, pairwise_distances, triplet_loss


def _naive(e, labels, strategy, alpha):
    d = pairwise_distances(e)
    out = []
    n = len(e)
    for a in range(n):
        for p in range(n):
            if p == a or labels[p] != labels[a]:
                continue
            for k in range(n):
                if labels[k] == labels[a]:
                    continue
                dap, dan = float(d[a, p]), float(d[a, k])
                keep = {"all": True, "hard": dan < dap, "semihard": dap < dan < dap + alpha}[strategy]
                if keep:
                    out.append((a, p, k))
    return out


def _as_list(t):
    return list(zip(*(x.tolist() for x in t)))


def _batch(seed, n=12, people=4, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    e = torch.nn.functional.normalize(torch.randn(n, 3, generator=g, dtype=dtype), dim=1)
    return e, torch.randint(0, people, (n,), generator=g)


@pytest.mark.parametrize("strategy", ["all", "hard", "semihard"])
@pytest.mark.parametrize("seed", range(3))
def test_matches_loop(strategy, seed, device):
    e, labels = _batch(seed, dtype=torch.float64)
    got = mine_triplets(e.to(device), labels.to(device), strategy, alpha=0.5)
    assert all(t.device.type == device.type and t.dtype == torch.long for t in got)
    assert _as_list(got) == _naive(e, labels, strategy, 0.5)


def test_ties_are_neither_hard_nor_semihard():
    # anchor 0 at 0; positive 1 at distance^2 1; negatives at distance^2 exactly 1 and 1.2
    e = torch.tensor([[0.0], [1.0], [-1.0], [1.2 ** 0.5]], dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 2])
    hard = _as_list(mine_triplets(e, labels, "hard"))
    semi = _as_list(mine_triplets(e, labels, "semihard", alpha=0.5))
    assert (0, 1, 2) not in hard and (0, 1, 2) not in semi
    assert (0, 1, 3) in semi
    assert semi == _naive(e, labels, "semihard", 0.5) and hard == _naive(e, labels, "hard", 0.5)


def test_semihard_and_hard_triplets_have_positive_loss():
    e, labels = _batch(5, n=32, people=5)
    for s in ("hard", "semihard"):
        a, p, n = mine_triplets(e, labels, s, alpha=0.2)
        assert len(a) > 0
        assert bool((triplet_loss(e[a], e[p], e[n], 0.2, reduction="none") > 0).all())


def test_random_one_negative_per_positive_pair_and_seeded():
    e, labels = _batch(1, n=16)
    a, p, n = mine_triplets(e, labels, "random", generator=torch.Generator().manual_seed(0))
    pairs = [(i, j) for i in range(16) for j in range(16) if i != j and labels[i] == labels[j]]
    assert list(zip(a.tolist(), p.tolist())) == pairs
    assert bool((labels[n] != labels[a]).all())
    again = mine_triplets(e, labels, "random", generator=torch.Generator().manual_seed(0))
    assert torch.equal(n, again[2])
    # every negative can be drawn: over many draws each negative of anchor 0 shows up
    g = torch.Generator().manual_seed(1)
    seen = set()
    for _ in range(50):
        a, p, n = mine_triplets(e, labels, "random", generator=g)
        seen |= set(n[a == a[0]].tolist())
    assert seen == set((labels != labels[a[0]]).nonzero().flatten().tolist())


def test_batch_hard_matches_loop():
    e, labels = _batch(2, dtype=torch.float64)
    d = pairwise_distances(e)
    a, p, n = mine_triplets(e, labels, "batch_hard")
    for i, j, k in zip(a.tolist(), p.tolist(), n.tolist()):
        pos = [float(d[i, q]) for q in range(len(e)) if q != i and labels[q] == labels[i]]
        negs = [float(d[i, q]) for q in range(len(e)) if labels[q] != labels[i]]
        assert float(d[i, j]) == max(pos) and float(d[i, k]) == min(negs)


@pytest.mark.parametrize("strategy", MINING_STRATEGIES)
@pytest.mark.parametrize("labels", [[0, 0, 0], [0, 1, 2], [3], []])
def test_no_valid_triplet_gives_empty_and_zero_loss(strategy, labels):
    e = torch.randn(len(labels), 4, requires_grad=True)
    a, p, n = mine_triplets(e, torch.tensor(labels, dtype=torch.long), strategy)
    assert len(a) == len(p) == len(n) == 0
    loss = triplet_loss(e[a], e[p], e[n], reduction="mean")
    assert float(loss.detach()) == 0.0
    loss.backward()
    assert bool(torch.isfinite(e.grad).all())


def test_errors():
    with pytest.raises(ValueError, match="strategy"):
        mine_triplets(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long), "hardest")
    with pytest.raises(ValueError, match=r"\(4,\)"):
        mine_triplets(torch.zeros(4, 2), torch.zeros(5, dtype=torch.long), "all")
