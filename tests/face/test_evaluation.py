"""Evaluation: ROC / EER / TAR@FAR / k-fold threshold against brute-force scans; pairs."""

from __future__ import annotations

import pytest
import torch

from coursekit.face.evaluation import (
    all_pairs,
    best_threshold_kfold,
    equal_error_rate,
    pair_distances,
    roc_auc,
    roc_curve_pairs,
    tar_at_far,
    threshold_at_far,
)


def _random_pairs(p=200, seed=0, ties=False):
    g = torch.Generator().manual_seed(seed)
    same = torch.rand(p, generator=g) < 0.4
    d = torch.rand(p, generator=g, dtype=torch.float64) + torch.where(same, 0.0, 0.5)
    if ties:
        d = (d * 5).round() / 5
    return d, same


def _far_frr(d, same, tau):
    acc = d <= tau
    far = (acc & ~same).sum().item() / (~same).sum().item()
    frr = (~acc & same).sum().item() / same.sum().item()
    return far, frr


def _scan(d, same):
    """Brute force: every distinct distance as a threshold, in increasing order."""
    return [(float(t), *_far_frr(d, same, t)) for t in sorted(set(d.tolist()))]


@pytest.mark.parametrize("ties", [False, True])
def test_eer_matches_threshold_scan(ties):
    d, same = _random_pairs(ties=ties)
    best = min(_scan(d, same), key=lambda r: (abs(r[1] - r[2]), r[0]))
    eer, tau = equal_error_rate(d, same)
    assert eer == pytest.approx((best[1] + best[2]) / 2)
    assert tau == pytest.approx(best[0])


@pytest.mark.parametrize("ties", [False, True])
def test_roc_curve_matches_scan(ties):
    d, same = _random_pairs(ties=ties)
    far, tar, tau = roc_curve_pairs(d, same)
    assert far[0] == 0 and tar[0] == 0 and tau[0] == -float("inf")
    for t, f, r in _scan(d, same):
        k = int(torch.nonzero(tau == t)[0])
        assert far[k].item() == pytest.approx(f)
        assert tar[k].item() == pytest.approx(1 - r)
    assert torch.all(tau[1:] >= tau[:-1])


def test_auc_matches_pair_counting():
    d, same = _random_pairs(p=80, ties=True)
    pos, neg = d[same], d[~same]
    wins = (pos[:, None] < neg[None, :]).double() + 0.5 * (pos[:, None] == neg[None, :]).double()
    assert roc_auc(d, same) == pytest.approx(wins.mean().item())


@pytest.mark.parametrize("target", [0.0, 0.01, 0.1, 0.5])
def test_tar_at_far_matches_scan(target):
    d, same = _random_pairs()
    ok = [1 - frr for _, far, frr in _scan(d, same) if far <= target]
    assert tar_at_far(d, same, far=target) == pytest.approx(max(ok, default=0.0))


@pytest.mark.parametrize("target", [0.0, 0.01, 0.1, 0.5, 1.0])
@pytest.mark.parametrize("ties", [False, True])
def test_threshold_at_far_matches_scan(target, ties):
    d, same = _random_pairs(ties=ties)
    ok = [t for t, far, _ in _scan(d, same) if far <= target]
    tau = threshold_at_far(d, same, far=target)
    if ok:
        assert tau == pytest.approx(max(ok))
    else:
        assert tau < d.min().item()
    assert _far_frr(d, same, tau)[0] <= target


def test_kfold_threshold_reference():
    d, same = _random_pairs(p=100)
    folds = 5
    r = best_threshold_kfold(d, same, folds=folds)
    fold_of = torch.arange(100) % folds
    for k in range(folds):
        tr, te = fold_of != k, fold_of == k
        # brute force: accuracy of every candidate on the training folds
        cands = sorted(set(d[tr].tolist()))
        best = max(((d[tr] <= t) == same[tr]).double().mean().item() for t in cands + [-1.0])
        tau = r["thresholds"][k]
        assert ((d[tr] <= tau) == same[tr]).double().mean().item() == pytest.approx(best)
        assert r["accuracies"][k] == pytest.approx(((d[te] <= tau) == same[te]).double().mean().item())
    assert r["accuracy"] == pytest.approx(sum(r["accuracies"]) / folds)
    g = torch.Generator().manual_seed(1)
    assert 0.5 < best_threshold_kfold(d, same, folds=5, generator=g)["accuracy"] <= 1.0


def test_perfect_separation():
    d = torch.tensor([0.1, 0.2, 0.3, 0.8, 0.9, 1.0])
    same = torch.tensor([True, True, True, False, False, False])
    assert roc_auc(d, same) == 1.0
    assert equal_error_rate(d, same)[0] == 0.0
    assert tar_at_far(d, same, far=0.0) == 1.0
    r = best_threshold_kfold(d, same, folds=3)
    assert r["accuracy"] == 1.0 and 0.3 <= r["threshold"] < 0.8


def test_pair_errors():
    with pytest.raises(ValueError, match="both same-person and different"):
        roc_auc(torch.rand(4), torch.ones(4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\(P,\)"):
        equal_error_rate(torch.rand(4, 1), torch.ones(4, dtype=torch.bool))
    with pytest.raises(ValueError, match="folds"):
        best_threshold_kfold(torch.rand(4), torch.tensor([True, False, True, False]), folds=10)
    with pytest.raises(ValueError, match="far"):
        tar_at_far(torch.rand(4), torch.tensor([True, False, True, False]), far=2.0)


def test_all_pairs_and_distances(device):
    labels = torch.tensor([0, 1, 0, 2], device=device)
    i, j, same = all_pairs(labels)
    assert i.shape == (6,) and bool((i < j).all()) and same.sum().item() == 1
    e = torch.randn(4, 3, device=device)
    d = pair_distances(e, i, j)
    ref = torch.stack([((e[a] - e[b]) ** 2).sum() for a, b in zip(i.tolist(), j.tolist())])
    torch.testing.assert_close(d, ref)
    assert d.device.type == device.type


def _weighted_auc_reference(d, same, weights):
    from sklearn.metrics import roc_auc_score

    return [roc_auc_score(same.numpy(), -d.numpy(), sample_weight=w.numpy()) for w in weights]


@pytest.mark.parametrize("by_people", [False, True])
def test_bootstrap_roc_auc_matches_sklearn_with_weights(by_people):
    from coursekit.face import bootstrap_roc_auc

    g = torch.Generator().manual_seed(0)
    labels = torch.arange(6).repeat_interleave(3)
    e = torch.randn(6, 4, generator=g)[labels] + 0.8 * torch.randn(18, 4, generator=g)
    i, j, same = all_pairs(labels)
    d = pair_distances(e, i, j)
    d2 = torch.stack([d, d.round(decimals=1)])  # a second score with ties, on the same pairs
    people = (labels[i], labels[j]) if by_people else None
    reps = bootstrap_roc_auc(d2, same, people=people, num_resamples=50,
                             generator=torch.Generator().manual_seed(3))
    # replay the draws
    rg = torch.Generator().manual_seed(3)
    if by_people:
        draws = torch.randint(6, (50, 6), generator=rg)
        ones = torch.ones(50, 6, dtype=torch.float64)
        count = torch.zeros(50, 6, dtype=torch.float64).scatter_add_(1, draws, ones)
        w = torch.where(same, count[:, labels[i]], count[:, labels[i]] * count[:, labels[j]])
    else:
        w = torch.zeros(50, len(d), dtype=torch.float64)
        for group in (same, ~same):
            idx = torch.nonzero(group).flatten()
            w.scatter_add_(1, idx[torch.randint(len(idx), (50, len(idx)), generator=rg)],
                           torch.ones(50, len(idx), dtype=torch.float64))
    for row, scores in zip(reps, d2):
        torch.testing.assert_close(row, torch.tensor(_weighted_auc_reference(scores.double(), same, w),
                                                     dtype=torch.float64))
    assert reps.shape == (2, 50)
    assert abs(float(reps[0].mean()) - roc_auc(d, same)) < 0.05


def test_bootstrap_roc_auc_by_people_equals_the_pair_weighted_sums():
    """The cluster bootstrap, summed person by person, against the definition: for each
    replicate, sum over every (same, different) pair of pairs of w_g * w_i * ([d_i > d_g] +
    [d_i == d_g] / 2), divided by the sums of the weights. Unequal image counts (one person
    with a single image, so no same-person pair), pairs listed either way round, ties,
    several rows; all sums are integers and halves, so equal to rounding of the division."""
    from coursekit.face import bootstrap_roc_auc

    g = torch.Generator().manual_seed(0)
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 3, 3, 3, 3, 4, 4, 5, 5, 5])
    i, j, same = all_pairs(labels)
    swap = torch.rand(len(i), generator=g) < 0.5
    i, j = torch.where(swap, j, i), torch.where(swap, i, j)
    d = torch.stack([torch.rand(len(i), generator=g), (4 * torch.rand(len(i), generator=g)).round() / 4,
                     torch.full((len(i),), 0.5)])  # (3, P): distinct values, many ties, all tied
    R = 40
    reps = bootstrap_roc_auc(d, same, people=(labels[i], labels[j]), num_resamples=R,
                             generator=torch.Generator().manual_seed(7))
    draws = torch.randint(6, (R, 6), generator=torch.Generator().manual_seed(7))  # replayed
    ones = torch.ones(R, 6, dtype=torch.float64)
    count = torch.zeros(R, 6, dtype=torch.float64).scatter_add_(1, draws, ones)
    w = torch.where(same, count[:, labels[i]], count[:, labels[i]] * count[:, labels[j]])  # (R, P)
    for row, scores in zip(reps, d.double()):
        dg, di = scores[same], scores[~same]
        right = (di[None, :] > dg[:, None]).double() + 0.5 * (di[None, :] == dg[:, None]).double()
        wg, wi = w[:, same], w[:, ~same]  # (R, n_gen), (R, n_imp)
        expected = torch.stack([wg[r] @ right @ wi[r] / (wg[r].sum() * wi[r].sum()) for r in range(R)])
        torch.testing.assert_close(row, expected, rtol=1e-15, atol=0)
    assert bool((reps[2] == 0.5).all())


def test_bootstrap_roc_auc_errors():
    from coursekit.face import bootstrap_roc_auc

    with pytest.raises(ValueError, match="both"):
        bootstrap_roc_auc(torch.rand(4), torch.ones(4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\(P,\)"):
        bootstrap_roc_auc(torch.rand(4), torch.ones(3, dtype=torch.bool))
