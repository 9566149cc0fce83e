"""Recognition (1:K) accuracy, lessons 4.1-4.2: one-shot identification over random enrolments.

Recognition compares a query with every enrolled person, so one mistake among K comparisons is
enough to fail (lesson 4.1):

* :func:`one_shot_accuracy` enrols one random image per identity and identifies the others by
  the nearest enrolled encoding (one-shot learning, lesson 4.2);
* :func:`identification_accuracy_vs_gallery` repeats it as the gallery grows;
* :func:`predicted_identification_accuracy` predicts that curve from the distances alone: for
  each probe, the chance that its genuine distance beats K - 1 impostor distances drawn from
  the probe's own impostor distances. Comparisons that share a probe are correlated (a blurred
  photo is far from everybody), so a model with one per-comparison error for all probes,
  ``AUC ** (K - 1)``, falls much faster than the measured curve; conditioning on the probe
  removes that correlation, and the model is exact when the K - 1 impostors are independent
  draws given the probe.

Shapes: ``N`` images, ``E`` encoding size.
"""

from __future__ import annotations

import torch

__all__ = ["identification_accuracy_vs_gallery", "one_shot_accuracy", "predicted_identification_accuracy"]


def _check_embeddings(embeddings: torch.Tensor, labels: torch.Tensor) -> None:
    if embeddings.dim() != 2:
        raise ValueError(f"embeddings must be (N, E), got shape {tuple(embeddings.shape)}")
    if labels.dim() != 1 or labels.shape[0] != embeddings.shape[0]:
        raise ValueError(
            f"labels must be (N,) with N = {embeddings.shape[0]}, got shape {tuple(labels.shape)}"
        )



def _draw_enrolments(labels: torch.Tensor, n_way: int | None, repeats: int,
                     generator: torch.Generator | None):
    """The random enrolments of :func:`one_shot_accuracy`, drawn on the CPU in a fixed order.

    Returns ``(enrol, query, truth, sizes)``: ``enrol`` ``(R, n_way)`` the enrolled image of each
    chosen identity (in slot order), ``query`` and ``truth`` ``(T,)`` every other image of the
    chosen identities and its slot, repeat after repeat, and ``sizes`` the queries per repeat.
    """
    classes, inverse, counts = torch.unique(labels.cpu(), return_inverse=True, return_counts=True)
    eligible = torch.nonzero(counts >= 2).flatten()  # (C,) class indices with a query image
    num = eligible.shape[0]
    if num < 2:
        raise ValueError(
            f"one-shot accuracy needs at least 2 identities with 2 or more images, got {num}"
        )
    n_way = num if n_way is None else n_way
    if not isinstance(n_way, int) or not 2 <= n_way <= num:
        raise ValueError(f"n_way must be an int in [2, {num}] (identities with 2+ images), got {n_way!r}")
    enrols, queries, truths = [], [], []
    for _ in range(repeats):  # index bookkeeping only: a few small CPU operations per repeat
        chosen = eligible[torch.randperm(num, generator=generator)[:n_way]]  # (n_way,)
        slot = torch.full((classes.shape[0],), -1, dtype=torch.long)
        slot[chosen] = torch.arange(n_way)
        members = torch.nonzero(slot[inverse] >= 0).flatten()  # images of the chosen identities
        order = members[torch.argsort(torch.rand(members.shape[0], generator=generator))]
        order = order[torch.argsort(slot[inverse[order]], stable=True)]  # grouped by slot
        first = torch.cumsum(counts[chosen], 0) - counts[chosen]  # (n_way,) start of each group
        is_query = torch.ones(order.shape[0], dtype=torch.bool)
        is_query[first] = False
        enrols.append(order[first])  # one random image per chosen identity, in slot order
        queries.append(order[is_query])
        truths.append(slot[inverse[queries[-1]]])
    return torch.stack(enrols), torch.cat(queries), torch.cat(truths), [len(q) for q in queries]


def one_shot_accuracy(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    *,
    n_way: int | None = None,
    repeats: int = 20,
    generator: torch.Generator | None = None,
) -> float:
    """One-shot N-way identification accuracy over repeated random enrolments.

    Each repeat picks ``n_way`` identities at random (all of them when ``None``), enrols one
    random image of each, and labels every other image of those identities with the nearest
    enrolled image (L2). Only identities with at least two images take part. The draws are made
    repeat by repeat on the CPU (``randperm`` of the identities, then ``rand`` keys for their
    images); the distances and nearest-neighbour searches of all repeats are then one batched
    computation on ``embeddings.device``.

    Args:
        embeddings: ``(N, E)`` encodings.
        labels: ``(N,)`` identities.
        n_way: gallery size ``N``, between 2 and the number of eligible identities.
        repeats: number of random enrolments to average over.
        generator: optional, for reproducible draws.

    Returns:
        The mean accuracy over the repeats, a float in [0, 1].

    Example:
        >>> e = torch.tensor([[0.0], [0.1], [5.0], [5.2], [9.0], [9.1]])
        >>> one_shot_accuracy(e, torch.tensor([0, 0, 1, 1, 2, 2]), repeats=3)
        1.0
    """
    _check_embeddings(embeddings, labels)
    if not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive int, got {repeats!r}")
    device = embeddings.device
    enrol, query, truth, sizes = _draw_enrolments(labels, n_way, repeats, generator)
    columns, enrol_col = torch.unique(enrol, return_inverse=True)  # every image ever enrolled
    dist = torch.cdist(embeddings, embeddings[columns.to(device)])  # (N, U)
    rep = torch.repeat_interleave(torch.arange(repeats), torch.tensor(sizes))  # (T,) repeat of each query
    query, rep = query.to(device), rep.to(device)
    pred = dist[query.unsqueeze(1), enrol_col.to(device)[rep]].argmin(1)  # (T,) slot of the nearest
    correct = torch.zeros(repeats, device=device).index_add_(0, rep, (pred == truth.to(device)).float())
    per_repeat = correct / torch.tensor(sizes, dtype=torch.float32, device=device)  # (R,)
    return sum(per_repeat.tolist()) / repeats


def identification_accuracy_vs_gallery(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    gallery_sizes: list[int],
    *,
    repeats: int = 20,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One-shot identification accuracy for each gallery size K (lesson 4.1).

    With K enrolled people a query must beat K - 1 impostors, so accuracy falls as K grows
    even though each single comparison stays as good as before.

    Args:
        embeddings: ``(N, E)`` encodings.
        labels: ``(N,)`` identities.
        gallery_sizes: the values of K, each between 2 and the number of identities.
        repeats: random enrolments per K.
        generator: optional, for reproducible draws.

    Returns:
        ``(len(gallery_sizes),)`` float32 accuracies on ``embeddings.device``.

    Example:
        >>> e = torch.tensor([[0.0], [0.1], [5.0], [5.2], [9.0], [9.1]])
        >>> identification_accuracy_vs_gallery(e, torch.tensor([0, 0, 1, 1, 2, 2]), [2, 3],
        ...                                    repeats=2).tolist()
        [1.0, 1.0]
    """
    acc = [
        one_shot_accuracy(embeddings, labels, n_way=k, repeats=repeats, generator=generator)
        for k in gallery_sizes
    ]
    return torch.tensor(acc, dtype=torch.float32, device=embeddings.device)


def predicted_identification_accuracy(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    gallery_sizes: list[int],
) -> torch.Tensor:
    """Identification accuracy vs gallery size K predicted from the empirical distances.

    For a probe ``q``, let ``G_q`` be its distances to the other images of its own person (one
    of them is the enrolled image, drawn at random) and ``I_q`` its distances to every image of
    the other people. The probe is named right when its genuine distance ``g`` is below all
    ``K - 1`` impostor distances, so, with ``F_q(g)`` the fraction of ``I_q`` above ``g``::

        acc(K) = mean_q mean_{g in G_q} F_q(g) ** (K - 1)

    This is exact for one probe when its ``K - 1`` impostor distances are independent draws
    from ``I_q`` (people with equal image counts drawn with replacement); unlike
    ``AUC ** (K - 1)`` it keeps each probe's own difficulty. Distances are L2, as in
    :func:`one_shot_accuracy`; probes without a genuine or an impostor distance are skipped.

    Args:
        embeddings: ``(N, E)`` encodings.
        labels: ``(N,)`` identities.
        gallery_sizes: the values of K (each >= 1).

    Returns:
        ``(len(gallery_sizes),)`` float32 predicted accuracies on ``embeddings.device``.

    Example:
        >>> e = torch.tensor([[0.0], [1.0], [1.5], [3.0]])
        >>> predicted_identification_accuracy(e, torch.tensor([0, 0, 1, 1]), [1, 2, 3]).tolist()
        [1.0, 0.625, 0.5625]
    """
    _check_embeddings(embeddings, labels)
    if not gallery_sizes or any(not isinstance(k, int) or k < 1 for k in gallery_sizes):
        raise ValueError(f"gallery_sizes must be a non-empty list of ints >= 1, got {gallery_sizes!r}")
    labels = labels.to(embeddings.device)  # the label masks meet the distances: one device
    dist = torch.cdist(embeddings, embeddings)  # (N, N)
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    genuine = same & ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    impostor = ~same
    ok = genuine.any(1) & impostor.any(1)  # probes that take part
    genuine, impostor, dist = genuine[ok], impostor[ok], dist[ok]  # (P, N)
    imp_sorted = torch.where(impostor, dist, torch.full_like(dist, float("inf"))).sort(1).values
    q, j = genuine.nonzero(as_tuple=True)  # (T,) one row per (probe, genuine image)
    at_or_below = torch.searchsorted(imp_sorted[q], dist[q, j].unsqueeze(1), right=True).squeeze(1)
    beat = 1 - at_or_below.to(dist.dtype) / impostor.sum(1)[q].to(dist.dtype)  # F_q(g), (T,)
    per_probe_count = genuine.sum(1).to(dist.dtype)  # (P,)
    out = []
    for k in gallery_sizes:
        per_probe = torch.zeros(len(per_probe_count), dtype=dist.dtype, device=dist.device)
        per_probe.index_add_(0, q, beat.pow(k - 1))
        out.append((per_probe / per_probe_count).mean())
    return torch.stack(out).float()
