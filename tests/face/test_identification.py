"""Identification: one-shot accuracy against a loop over every enrolment, and as the gallery grows."""

from __future__ import annotations

import pytest
import torch

from coursekit.face import (
    identification_accuracy_vs_gallery,
    one_shot_accuracy,
    predicted_identification_accuracy,
)


def _one_shot_loop(e, labels, enrol_idx):
    """Loop reference for one enrolment: nearest enrolled image for each other image."""
    correct = total = 0
    enrolled = {int(labels[k]): k for k in enrol_idx}
    for q in range(len(labels)):
        if int(labels[q]) not in enrolled or q in enrol_idx:
            continue
        best = min(enrolled, key=lambda c: ((e[q] - e[enrolled[c]]) ** 2).sum().item())
        correct += best == int(labels[q])
        total += 1
    return correct / total


def test_one_shot_accuracy_matches_loop():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(6).repeat_interleave(4)
    e = torch.randn(6, 5, generator=g)[labels] + 0.9 * torch.randn(24, 5, generator=g)
    # a full gallery with one repeat: replay the draw to know which images were enrolled
    acc = one_shot_accuracy(e, labels, repeats=1, generator=torch.Generator().manual_seed(3))
    refs = []
    for enrol in _all_enrolments(labels, trials=300):
        refs.append(_one_shot_loop(e, labels, enrol))
    assert min(refs) <= acc <= max(refs)
    # averaged over many repeats, the vectorised estimate matches the loop's average
    many = one_shot_accuracy(e, labels, repeats=300, generator=torch.Generator().manual_seed(5))
    assert many == pytest.approx(sum(refs) / len(refs), abs=0.03)


def _all_enrolments(labels, trials):
    g = torch.Generator().manual_seed(11)
    out = []
    for _ in range(trials):
        enrol = []
        for c in labels.unique().tolist():
            idx = torch.nonzero(labels == c).flatten()
            enrol.append(int(idx[torch.randint(len(idx), (1,), generator=g)]))
        out.append(enrol)
    return out


def test_one_shot_separable_and_singletons(device):
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 3], device=device)  # identity 3 has one image
    e = labels[:, None].double() * 10 + 0.1 * torch.arange(8, device=device)[:, None]
    assert one_shot_accuracy(e, labels, repeats=5) == 1.0
    assert one_shot_accuracy(e, labels, n_way=2, repeats=5) == 1.0
    with pytest.raises(ValueError, match="n_way"):
        one_shot_accuracy(e, labels, n_way=4)  # identity 3 cannot take part
    with pytest.raises(ValueError, match="at least 2 identities"):
        one_shot_accuracy(e[:3], labels[:3])
    with pytest.raises(ValueError, match=r"\(N,\)"):
        one_shot_accuracy(e, labels[:3])


def test_one_shot_is_reproducible():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(5).repeat_interleave(3)
    e = torch.randn(15, 4, generator=g)
    a = one_shot_accuracy(e, labels, repeats=4, generator=torch.Generator().manual_seed(7))
    b = one_shot_accuracy(e, labels, repeats=4, generator=torch.Generator().manual_seed(7))
    assert a == b


def test_identification_accuracy_falls_with_gallery(device):
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(30).repeat_interleave(4).to(device)
    e = (torch.randn(30, 8, generator=g)[labels.cpu()] + 0.8 * torch.randn(120, 8, generator=g)).to(device)
    acc = identification_accuracy_vs_gallery(e, labels, [2, 10, 30], repeats=30,
                                             generator=torch.Generator().manual_seed(1))
    assert acc.shape == (3,) and acc.device.type == device.type
    assert acc[0] > acc[1] > acc[2]


def _one_shot_accuracy_loop(embeddings, labels, n_way, repeats, generator):
    """The previous implementation: one enrolment, one cdist and one argmin per repeat (issue 17)."""
    device = embeddings.device
    classes, inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    eligible = torch.nonzero(counts >= 2).flatten()
    num = eligible.shape[0]
    n_way = num if n_way is None else n_way
    total = 0.0
    for _ in range(repeats):
        chosen = eligible[torch.randperm(num, generator=generator)[:n_way].to(device)]
        slot = torch.full((classes.shape[0],), -1, dtype=torch.long, device=device)
        slot[chosen] = torch.arange(n_way, device=device)
        members = torch.nonzero(slot[inverse] >= 0).flatten()
        key = torch.rand(members.shape[0], generator=generator).to(device)
        order = members[torch.argsort(key)]
        order = order[torch.argsort(slot[inverse[order]], stable=True)]
        first = torch.cumsum(counts[chosen], 0) - counts[chosen]
        enrol = order[first]
        is_query = torch.ones(order.shape[0], dtype=torch.bool, device=device)
        is_query[first] = False
        query = order[is_query]
        pred = torch.argmin(torch.cdist(embeddings[query], embeddings[enrol]), dim=1)
        total += float((pred == slot[inverse[query]]).float().mean())
    return total / repeats


@pytest.mark.parametrize("n_way", [None, 2, 7])
def test_batched_repeats_equal_the_loop(n_way, device):
    """Same generator, same draws: the batched computation gives the loop's value exactly."""
    g = torch.Generator().manual_seed(0)
    counts = torch.tensor([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])  # one identity without a query image
    labels = torch.arange(10).repeat_interleave(counts)[torch.randperm(55, generator=g)].to(device)
    e = (torch.randn(10, 6, generator=g)[labels.cpu()] + 1.1 * torch.randn(55, 6, generator=g)).to(device)
    for repeats in (1, 13, 100):
        ref = _one_shot_accuracy_loop(e, labels, n_way, repeats, torch.Generator().manual_seed(repeats))
        out = one_shot_accuracy(e, labels, n_way=n_way, repeats=repeats,
                                generator=torch.Generator().manual_seed(repeats))
        assert out == ref and 0.2 < out < 1.0


def _predicted_loop(e, labels, ks):
    """Brute force: every probe, every genuine distance, the fraction of impostors farther away."""
    out = []
    for k in ks:
        per_probe = []
        for q in range(len(labels)):
            d = [float((e[q] - e[j]).norm()) for j in range(len(labels))]
            gen = [d[j] for j in range(len(labels)) if j != q and labels[j] == labels[q]]
            imp = [d[j] for j in range(len(labels)) if labels[j] != labels[q]]
            if gen and imp:
                per_probe.append(sum((sum(i > g for i in imp) / len(imp)) ** (k - 1) for g in gen) / len(gen))
        out.append(sum(per_probe) / len(per_probe))
    return out


def test_predicted_identification_matches_a_loop(device):
    g = torch.Generator().manual_seed(0)
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])  # person 3 has no genuine pair: skipped
    e = torch.randn(10, 3, generator=g, dtype=torch.float64)
    out = predicted_identification_accuracy(e.to(device), labels.to(device), [1, 2, 4, 7])
    assert out.device.type == device.type and out.dtype == torch.float32
    torch.testing.assert_close(out.cpu(), torch.tensor(_predicted_loop(e, labels, [1, 2, 4, 7])).float())
    with pytest.raises(ValueError, match="gallery_sizes"):
        predicted_identification_accuracy(e, labels, [0])


def test_predicted_identification_follows_the_measured_curve():
    """Probes of unequal difficulty: the model tracks the measurement, AUC ** (K - 1) does not."""
    from coursekit.face import all_pairs, pair_distances, roc_auc

    g = torch.Generator().manual_seed(0)
    labels = torch.arange(40).repeat_interleave(5)
    spread = torch.rand(200, 1, generator=g) * 2.0  # some photos are far noisier than others
    e = torch.randn(40, 16, generator=g)[labels] + spread * torch.randn(200, 16, generator=g)
    ks = [2, 10, 40]
    measured = identification_accuracy_vs_gallery(e, labels, ks, repeats=200,
                                                  generator=torch.Generator().manual_seed(1))
    predicted = predicted_identification_accuracy(e, labels, ks)
    i, j, same = all_pairs(labels)
    auc = roc_auc(pair_distances(e, i, j), same)
    naive = torch.tensor([auc ** (k - 1) for k in ks])
    assert (predicted - measured).abs().max() < 0.03
    assert (naive - measured).abs().max() > 0.1
    assert predicted[0] > predicted[1] > predicted[2]
