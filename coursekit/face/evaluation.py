"""Evaluating face encodings, lessons 4.1-4.2: pairs and verification (1:1) curves.

Verification (1:1) accepts a pair when its squared L2 distance is at most a threshold,
``d <= tau``; sweeping ``tau`` trades false accepts (FAR) against false rejects (FRR = 1 - TAR):

* :func:`roc_curve_pairs`, :func:`roc_auc`, :func:`equal_error_rate` and :func:`tar_at_far`
  wrap :mod:`sklearn.metrics` (the score is ``-distance``);
* :func:`best_threshold_kfold` chooses ``tau`` by k-fold cross-validation, the LFW protocol
  (Huang et al., "Labeled Faces in the Wild", 2007);
* :func:`bootstrap_roc_auc` resamples the pairs, or the people, for confidence intervals of the
  AUC and of differences between scores of the same pairs (Efron & Tibshirani, "An
  Introduction to the Bootstrap", 1993).

Recognition (1:K) is measured in :mod:`coursekit.face.identification`.

Pairs are index tensors ``(i, j, same)``: :func:`all_pairs` lists every pair,
:func:`~coursekit.face.verification.make_pairs` samples balanced ones and
:func:`pair_distances` measures them. Shapes: ``N`` images, ``E`` encoding size, ``P`` pairs.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "all_pairs",
    "best_threshold_kfold",
    "bootstrap_roc_auc",
    "equal_error_rate",
    "pair_distances",
    "roc_auc",
    "roc_curve_pairs",
    "tar_at_far",
    "threshold_at_far",
]


def _check_pairs(distances: torch.Tensor, same: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``(P,)`` distances and same-person flags; return them as NumPy arrays."""
    distances, same = torch.as_tensor(distances), torch.as_tensor(same)
    if distances.dim() != 1 or same.shape != distances.shape:
        raise ValueError(
            f"distances and same must both be (P,), got {tuple(distances.shape)} and "
            f"{tuple(same.shape)}"
        )
    same_np = same.detach().cpu().numpy().astype(bool)
    if same_np.all() or not same_np.any():
        raise ValueError("need both same-person and different-person pairs to measure errors")
    return distances.detach().cpu().double().numpy(), same_np


def all_pairs(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every unordered pair ``i < j`` of images, with a same-person flag.

    Args:
        labels: ``(N,)`` identity of each image.

    Returns:
        ``(i, j, same)``: ``(P,)`` long, long and bool tensors on ``labels.device``, with
        ``P = N (N - 1) / 2``.

    Example:
        >>> i, j, same = all_pairs(torch.tensor([0, 0, 1]))
        >>> i.tolist(), j.tolist(), same.tolist()
        ([0, 0, 1], [1, 2, 2], [True, False, False])
    """
    if labels.dim() != 1:
        raise ValueError(f"labels must be (N,), got shape {tuple(labels.shape)}")
    n = labels.shape[0]
    i, j = torch.triu_indices(n, n, offset=1, device=labels.device)  # (2, P)
    return i, j, labels[i] == labels[j]


def pair_distances(embeddings: torch.Tensor, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
    """Squared L2 distance ``||f(x_i) - f(x_j)||^2`` of each pair.

    Args:
        embeddings: ``(N, E)`` encodings.
        i, j: ``(P,)`` indices of the two images of each pair.

    Returns:
        ``(P,)`` distances, on ``embeddings.device``.

    Example:
        >>> e = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
        >>> pair_distances(e, torch.tensor([0]), torch.tensor([1]))
        tensor([25.])
    """
    if embeddings.dim() != 2:
        raise ValueError(f"embeddings must be (N, E), got shape {tuple(embeddings.shape)}")
    return (embeddings[i] - embeddings[j]).pow(2).sum(dim=1)


def roc_curve_pairs(
    distances: torch.Tensor, same: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ROC curve of the rule ``accept if d <= tau`` (``sklearn.metrics.roc_curve``).

    Args:
        distances: ``(P,)`` pair distances.
        same: ``(P,)`` bool, True for pairs of the same person.

    Returns:
        ``(far, tar, thresholds)``, each ``(T,)`` float64 on ``distances.device``, ordered by
        increasing threshold: at ``thresholds[t]``, a fraction ``far[t]`` of different-person
        pairs and ``tar[t]`` of same-person pairs is accepted. The first threshold is
        ``-inf`` (accept nothing).

    Example:
        >>> far, tar, tau = roc_curve_pairs(torch.tensor([0.1, 0.2, 0.9, 1.5]),
        ...                                 torch.tensor([True, True, False, False]))
        >>> far.tolist(), tar.tolist()
        ([0.0, 0.0, 0.0, 0.5, 1.0], [0.0, 0.5, 1.0, 1.0, 1.0])
    """
    device = torch.as_tensor(distances).device
    d, s = _check_pairs(distances, same)
    from sklearn import metrics  # here, not at the top: a slow import `faces identify` never needs
    fpr, tpr, thr = metrics.roc_curve(s, -d, drop_intermediate=False)
    out = (fpr, tpr, -thr)
    return tuple(torch.as_tensor(np.ascontiguousarray(a), device=device) for a in out)


def roc_auc(distances: torch.Tensor, same: torch.Tensor) -> float:
    """Area under the ROC curve: the probability that a random same-person pair is closer
    than a random different-person pair (``sklearn.metrics.roc_auc_score``).

    Example:
        >>> roc_auc(torch.tensor([0.1, 0.5, 0.4, 0.9]), torch.tensor([True, True, False, False]))
        0.75
    """
    d, s = _check_pairs(distances, same)
    from sklearn import metrics
    return float(metrics.roc_auc_score(s, -d))


def equal_error_rate(distances: torch.Tensor, same: torch.Tensor) -> tuple[float, float]:
    """The equal error rate: where false accepts equal false rejects.

    Over the thresholds where the accepted set changes, take the one whose
    ``|FAR - FRR|`` is smallest (the smallest such threshold on ties) and report
    ``(FAR + FRR) / 2`` there.

    Args:
        distances: ``(P,)`` pair distances.
        same: ``(P,)`` bool same-person flags.

    Returns:
        ``(eer, threshold)`` as floats.

    Example:
        >>> equal_error_rate(torch.tensor([0.1, 0.2, 0.9, 1.5]),
        ...                  torch.tensor([True, True, False, False]))
        (0.0, 0.2)
    """
    d, s = _check_pairs(distances, same)
    from sklearn import metrics
    fpr, tpr, thr = metrics.roc_curve(s, -d, drop_intermediate=False)
    fpr, frr, thr = fpr[1:], 1.0 - tpr[1:], -thr[1:]  # drop the accept-nothing point
    k = int(np.argmin(np.abs(fpr - frr)))
    return float((fpr[k] + frr[k]) / 2), float(thr[k])


def _operating_point(distances: torch.Tensor, same: torch.Tensor, far: float):
    """``(tar, tau)`` at the largest threshold whose false accept rate is at most ``far``."""
    if not 0.0 <= far <= 1.0:
        raise ValueError(f"far must be in [0, 1], got {far}")
    d, s = _check_pairs(distances, same)
    from sklearn import metrics
    fpr, tpr, thr = metrics.roc_curve(s, -d, drop_intermediate=False)
    k = int(np.nonzero(fpr <= far)[0][-1])  # fpr and tpr grow with the threshold
    tau = float(-thr[k])
    return float(tpr[k]), (tau if np.isfinite(tau) else float(np.nextafter(d.min(), -np.inf)))


def tar_at_far(distances: torch.Tensor, same: torch.Tensor, far: float = 1e-3) -> float:
    """True accept rate at the largest threshold whose false accept rate is at most ``far``.

    Example:
        >>> tar_at_far(torch.tensor([0.1, 0.5, 0.4, 0.9]),
        ...            torch.tensor([True, True, False, False]), far=0.0)
        0.5
    """
    return _operating_point(distances, same, far)[0]


def threshold_at_far(distances: torch.Tensor, same: torch.Tensor, far: float = 1e-3) -> float:
    """The largest threshold whose false accept rate is at most ``far``.

    A door that must rarely let an impostor in picks ``tau`` this way (and accepts more false
    rejects) instead of maximising accuracy.

    Returns:
        ``tau`` as a float; when even the smallest distance belongs to a different-person pair
        and ``far`` is 0, a value just below it (nothing is accepted).

    Example:
        >>> threshold_at_far(torch.tensor([0.1, 0.5, 0.4, 0.9]),
        ...                  torch.tensor([True, True, False, False]), far=0.0)
        0.1
    """
    return _operating_point(distances, same, far)[1]


def _best_accuracy_threshold(d: torch.Tensor, same: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The threshold maximising pair accuracy of ``accept if d <= tau`` (vectorised).

    Candidates sit half-way between consecutive distinct distances, plus one below the
    smallest (accept nothing) and the largest distance (accept everything).
    """
    order = torch.argsort(d)
    d, same = d[order], same[order].to(torch.float64)
    n = d.shape[0]
    tp = torch.cumsum(same, 0)  # same pairs accepted when the first k+1 are accepted
    fp = torch.cumsum(1.0 - same, 0)
    acc = (tp + (fp[-1] - fp)) / n  # (n,)
    last_of_tie = torch.ones(n, dtype=torch.bool, device=d.device)
    last_of_tie[:-1] = d[1:] > d[:-1]
    acc = torch.where(last_of_tie, acc, torch.full_like(acc, -1.0))
    tau = torch.cat([(d[:-1] + d[1:]) / 2, d[-1:]])
    acc = torch.cat([(fp[-1] / n).reshape(1), acc])  # accept nothing first
    tau = torch.cat([torch.nextafter(d[:1], torch.full_like(d[:1], -float("inf"))), tau])
    k = torch.argmax(acc)
    return tau[k], acc[k]


def best_threshold_kfold(
    distances: torch.Tensor,
    same: torch.Tensor,
    *,
    folds: int = 10,
    generator: torch.Generator | None = None,
) -> dict:
    """Choose the threshold by k-fold cross-validation (the LFW protocol).

    For each fold, the threshold with the best accuracy on the other ``folds - 1`` folds is
    applied to the held-out fold. Folds interleave the pairs (pair ``p`` goes to fold
    ``p % folds``), or follow a random permutation when ``generator`` is given.

    Args:
        distances: ``(P,)`` pair distances, ``P >= folds``.
        same: ``(P,)`` bool same-person flags.
        folds: number of folds (10 in LFW).
        generator: optional, to shuffle the pairs before splitting.

    Returns:
        A dict with ``threshold`` (mean of the fold thresholds), ``accuracy`` and
        ``accuracy_std`` (mean and standard deviation of the held-out accuracies), and
        ``thresholds`` / ``accuracies`` (lists, one per fold).

    Example:
        >>> d = torch.tensor([0.1, 0.2, 0.3, 1.1, 1.2, 1.3] * 2)
        >>> same = torch.tensor([True, True, True, False, False, False] * 2)
        >>> r = best_threshold_kfold(d, same, folds=2)
        >>> round(r["accuracy"], 3), 0.3 < r["threshold"] < 1.1
        (1.0, True)
    """
    _check_pairs(distances, same)
    # a few thousand numbers: on the CPU in float64 (not every accelerator has float64)
    d = torch.as_tensor(distances).detach().cpu().double()
    s = torch.as_tensor(same).detach().cpu().bool()
    if not isinstance(folds, int) or folds < 2 or folds > d.shape[0]:
        raise ValueError(f"folds must be an int in [2, {d.shape[0]}] (the pair count), got {folds!r}")
    p = d.shape[0]
    if generator is None:
        fold_of = torch.arange(p, device=d.device) % folds
    else:
        perm = torch.randperm(p, generator=generator).to(d.device)
        fold_of = torch.empty(p, dtype=torch.long, device=d.device)
        fold_of[perm] = torch.arange(p, device=d.device) % folds
    thresholds, accuracies = [], []
    for k in range(folds):
        test = fold_of == k
        tau, _ = _best_accuracy_threshold(d[~test], s[~test])
        accuracies.append(float(((d[test] <= tau) == s[test]).double().mean()))
        thresholds.append(float(tau))
    acc = torch.tensor(accuracies, dtype=torch.float64)
    return {
        "threshold": float(np.mean(thresholds)),
        "accuracy": float(acc.mean()),
        "accuracy_std": float(acc.std(unbiased=False)),
        "thresholds": thresholds,
        "accuracies": accuracies,
    }


def bootstrap_roc_auc(
    distances: torch.Tensor,
    same: torch.Tensor,
    *,
    people: tuple[torch.Tensor, torch.Tensor] | None = None,
    num_resamples: int = 1000,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Bootstrap replicates of the ROC AUC, the same resamples for every row of ``distances``.

    Without ``people``, each replicate draws the same-person pairs and the different-person
    pairs with replacement (each group keeps its size). Pairs that share a face are not
    independent, so this understates the spread; with ``people`` (the identities of the two
    faces of each pair) each replicate instead draws the people with replacement (a cluster
    bootstrap): a pair counts as often as the product of its two people's draws (a same-person
    pair as often as its person's), and pairs of two copies of one person are left out. Rows of
    ``distances`` scored on the same pairs (several methods) share every replicate, so their
    differences are paired. Ties count one half, as in :func:`roc_auc`.

    Args:
        distances: ``(P,)`` or ``(M, P)`` pair distances (lower: more alike).
        same: ``(P,)`` bool same-person flags.
        people: optional ``(P,)`` and ``(P,)`` identities of the two faces of each pair.
        num_resamples: ``R`` replicates.
        generator: for reproducible replicates.

    Returns:
        ``(R,)`` or ``(M, R)`` AUC replicates (float64, on the CPU); take quantiles for an
        interval, e.g. ``torch.quantile(reps, torch.tensor([0.025, 0.975], dtype=reps.dtype), dim=-1)``.

    Example:
        >>> d = torch.tensor([0.1, 0.2, 0.3, 0.6, 0.25, 0.9])
        >>> same = torch.tensor([True, True, True, False, False, False])
        >>> reps = bootstrap_roc_auc(d, same, num_resamples=200, generator=torch.Generator().manual_seed(0))
        >>> reps.shape, round(roc_auc(d, same), 4), bool(reps.min() >= 0.0), bool(reps.max() <= 1.0)
        (torch.Size([200]), 0.8889, True, True)
    """
    d = torch.as_tensor(distances).detach().cpu().double()
    s = torch.as_tensor(same).detach().cpu().bool()
    squeeze = d.dim() == 1
    d = d.unsqueeze(0) if squeeze else d
    if d.dim() != 2 or s.shape != (d.shape[1],):
        raise ValueError(f"distances must be (P,) or (M, P) and same (P,), got {tuple(distances.shape)} "
                         f"and {tuple(same.shape)}")
    if not bool(s.any()) or bool(s.all()):
        raise ValueError("need both same-person and different-person pairs")
    if num_resamples < 1:
        raise ValueError(f"num_resamples must be >= 1, got {num_resamples}")
    R = num_resamples
    if people is None:
        weights = torch.zeros(R, len(s), dtype=torch.float64)
        for group in (s, ~s):
            idx = torch.nonzero(group).flatten()
            draw = idx[torch.randint(len(idx), (R, len(idx)), generator=generator)]  # (R, n)
            weights.scatter_add_(1, draw, torch.ones(draw.shape, dtype=torch.float64))
        reps = _weighted_auc(d, s, weights)
    else:
        pi, pj = (torch.as_tensor(t).cpu() for t in people)
        if pi.shape != s.shape or pj.shape != s.shape:
            raise ValueError(f"people must be two (P,) tensors with P = {len(s)}")
        ids, inv = torch.unique(torch.cat([pi, pj]), return_inverse=True)
        a, b = inv[: len(s)], inv[len(s):]
        draws = torch.randint(len(ids), (R, len(ids)), generator=generator)
        count = torch.zeros(R, len(ids), dtype=torch.float64).scatter_add_(
            1, draws, torch.ones(draws.shape, dtype=torch.float64))  # (R, people) draws of each person
        # the pair weights would be torch.where(s, count[:, a], count[:, a] * count[:, b]) (R, P)
        # for _weighted_auc; the same sums are taken person by person instead, without them
        reps = _cluster_weighted_auc(d, s, a, b, count)
    return reps[0] if squeeze else reps


def _weighted_auc(d: torch.Tensor, s: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``(M, R)`` AUCs of the rows of ``d`` ``(M, P)`` with pair weights ``(R, P)`` (float64):
    the weighted share of (same, different) pairs in the right order, ties counting one half."""
    R = weights.shape[0]
    out = []
    gen_idx, imp_idx = torch.nonzero(s).flatten(), torch.nonzero(~s).flatten()
    for row in d:
        imp_vals, order = row[imp_idx].sort()
        w_imp = weights[:, imp_idx[order]]  # (R, n_imp), by increasing distance
        below = torch.cat([torch.zeros(R, 1, dtype=torch.float64), w_imp.cumsum(1)], dim=1)  # (R, n_imp + 1)
        g = row[gen_idx]
        lo = torch.searchsorted(imp_vals, g, right=False)  # impostors strictly below g
        hi = torch.searchsorted(imp_vals, g, right=True)  # ... at or below g
        total = below[:, -1:]
        farther = total - below[:, hi] + 0.5 * (below[:, hi] - below[:, lo])  # (R, n_gen): ties count 1/2
        w_gen = weights[:, gen_idx]
        out.append((w_gen * farther).sum(1) / (w_gen.sum(1) * total.squeeze(1)))
    return torch.stack(out)


def _cluster_weighted_auc(d: torch.Tensor, s: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                          count: torch.Tensor) -> torch.Tensor:
    """:func:`_weighted_auc` with the cluster bootstrap's weights, summed by people.

    A same-person pair of person ``p`` weighs ``count[:, p]``, a pair of people ``(q, t)``
    ``count[:, q] * count[:, t]``, so the numerator is ``sum over p, (q, t) of count[:, p] *
    count[:, q] * count[:, t] * K[p, (q, t)]``, where ``K`` counts (once, for all replicates) the
    pairs in the right order between person ``p``'s same-person pairs and the pairs of ``(q, t)``.
    Every sum is of integers and halves, exact in float64, so the result is ``_weighted_auc``'s
    to the bit; the work per replicate is people x cells instead of pairs.

    Args:
        d: ``(M, P)`` distances (float64); s: ``(P,)`` same-person flags.
        a, b: ``(P,)`` the two people of each pair, as indices into the columns of ``count``.
        count: ``(R, U)`` draws of each person in each replicate (float64).

    Returns:
        ``(M, R)`` AUC replicates.
    """
    U = count.shape[1]
    gen, imp = torch.nonzero(s).flatten(), torch.nonzero(~s).flatten()
    cells, cell = torch.unique(a[imp] * U + b[imp], return_inverse=True)  # (C,), (n_imp,)
    q, t = cells // U, cells % U
    w_cells = count[:, q] * count[:, t]  # (R, C) weight of one pair of each cell
    n_cell = torch.bincount(cell, minlength=len(cells)).to(torch.float64)  # (C,)
    person = a[gen]  # (n_gen,)
    n_gen = torch.bincount(person, minlength=U).to(torch.float64)  # (U,)
    denominator = (count @ n_gen) * (w_cells @ n_cell)  # (R,)
    out = []
    for row in d:
        # dense ranks of all the row's values: exact integer keys, ties equal
        _, rank = torch.unique(row, return_inverse=True)  # (P,)
        V = int(rank.max()) + 1
        keys, _ = (cell * V + rank[imp]).sort()  # (n_imp,) impostors by cell, then distance
        base = torch.arange(len(cells)) * V  # (C,) first key of each cell
        end = torch.searchsorted(keys, base + V)  # (C,) end of each cell
        K = torch.zeros(U, len(cells), dtype=torch.float64)  # (U, C)
        for chunk in torch.split(torch.arange(len(gen)), max(1, 2**22 // len(cells))):  # bounded memory
            g_keys = base.unsqueeze(0) + rank[gen[chunk]].unsqueeze(1)  # (n, C)
            lo = torch.searchsorted(keys, g_keys, right=False)  # impostors of the cell below g, ...
            hi = torch.searchsorted(keys, g_keys, right=True)  # ... at or below g
            right_order = (end - hi).to(torch.float64) + 0.5 * (hi - lo).to(torch.float64)  # (n, C)
            K.index_add_(0, person[chunk], right_order)
        out.append(((count @ K) * w_cells).sum(1) / denominator)
    return torch.stack(out)
