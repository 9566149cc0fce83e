"""Choosing triplets (lesson 4.4; FaceNet, Schroff et al. 2015, section 3.2).

Random triplets are mostly easy: d(A, P) + alpha <= d(A, N) already holds, their loss is 0 and
they teach nothing. :func:`mine_triplets` returns index triplets ``(a, p, n)`` of a batch,
vectorised (one distance matrix, boolean masks, no Python loop over the batch):

* ``"all"``: every valid triplet: labels[a] == labels[p], a != p, labels[n] != labels[a];
* ``"random"``: each positive pair (a, p) with one negative drawn uniformly at random;
* ``"hard"``: FaceNet's hard negatives, d(a, n) < d(a, p);
* ``"semihard"``: FaceNet's semi-hard negatives, d(a, p) < d(a, n) < d(a, p) + alpha
  (further than the positive, but still inside the margin);
* ``"batch_hard"``: one triplet per anchor, its farthest positive and nearest negative
  (Hermans et al. 2017), the triplets :func:`~coursekit.face.batch_hard_triplet_loss` uses.

Distances are squared L2. Inequalities are strict, so a tie d(a, n) == d(a, p) is neither hard
nor semi-hard. Triplets come in (a, p, n) lexicographic order.
"""

from __future__ import annotations

import torch

from coursekit.face.distances import check_labels, label_masks, pairwise_distances

__all__ = ["MINING_STRATEGIES", "mine_triplets"]

MINING_STRATEGIES = ("all", "random", "hard", "semihard", "batch_hard")


def mine_triplets(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    strategy: str,
    alpha: float = 0.2,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Index triplets of a batch for ``strategy`` (see the module docstring).

    Memory grows with (number of positive pairs) x B, e.g. 3 M booleans for a batch of 256
    people x 4 images; ``"batch_hard"`` needs only B x B.

    Args:
        embeddings: ``(B, E)`` encodings (not differentiated through).
        labels: ``(B,)`` integer person labels (on any device: moved to the encodings').
        strategy: one of :data:`MINING_STRATEGIES`.
        alpha: the margin (used by ``"semihard"``).
        generator: for ``"random"`` (a CPU generator works for any device).

    Returns:
        ``(a, p, n)``: three int64 ``(T,)`` index tensors on ``embeddings``' device; ``T = 0``
        when the batch holds no such triplet.

    Raises:
        ValueError: bad shapes or an unknown strategy.

    Example:
        >>> e = torch.tensor([[0.0], [0.5], [0.8], [1.5]])
        >>> labels = torch.tensor([0, 0, 1, 1])
        >>> [t.tolist() for t in mine_triplets(e, labels, "hard")]
        [[1, 2], [0, 3], [2, 1]]
        >>> [t.tolist() for t in mine_triplets(e, labels, "semihard")]
        [[2], [3], [0]]
    """
    check_labels(embeddings, labels)
    if strategy not in MINING_STRATEGIES:
        raise ValueError(f"strategy must be one of {MINING_STRATEGIES}, got {strategy!r}")
    dev = embeddings.device
    labels = labels.to(dev)  # the label masks meet the distances in every strategy: one device
    if len(labels) == 0:
        empty = torch.zeros(0, dtype=torch.long, device=dev)
        return empty, empty.clone(), empty.clone()
    with torch.no_grad():
        d = pairwise_distances(embeddings.detach())  # (B, B)
        pos, neg = label_masks(labels)  # (B, B) each
        if strategy == "batch_hard":
            valid = pos.any(1) & neg.any(1)
            a = valid.nonzero().flatten()
            p = torch.where(pos, d, torch.full_like(d, -1.0)).argmax(1)[a]
            n = torch.where(neg, d, torch.full_like(d, float("inf"))).argmin(1)[a]
            return a.to(dev), p.to(dev), n.to(dev)
        a, p = pos.nonzero(as_tuple=True)  # every positive pair, (T_pos,)
        cand = neg[a]  # (T_pos, B): which n are negatives of a
        if strategy == "random":
            scores = torch.rand(cand.shape, generator=generator,
                                device=generator.device if generator is not None else dev)
            scores = torch.where(cand, scores.to(dev), torch.full_like(scores.to(dev), -1.0))
            keep = cand.any(1)
            return a[keep].to(dev), p[keep].to(dev), scores.argmax(1)[keep].to(dev)
        d_ap = d[a, p].unsqueeze(1)  # (T_pos, 1)
        d_an = d[a]  # (T_pos, B)
        if strategy == "hard":
            cand = cand & (d_an < d_ap)
        elif strategy == "semihard":
            cand = cand & (d_an > d_ap) & (d_an < d_ap + alpha)
        t, n = cand.nonzero(as_tuple=True)
        return a[t].to(dev), p[t].to(dev), n.to(dev)
