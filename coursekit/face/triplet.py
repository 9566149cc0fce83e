"""The triplet loss (lesson 4.4; Schroff, Kalenichenko & Philbin, "FaceNet", CVPR 2015).

L(A, P, N) = max(||f(A) - f(P)||^2 - ||f(A) - f(N)||^2 + alpha, 0), and J = sum_i L over
the training triplets. :func:`batch_hard_triplet_loss` picks, for each anchor of a P x K batch,
the farthest positive and the nearest negative (Hermans, Beyer & Leibe, "In Defense of the
Triplet Loss for Person Re-Identification", 2017).
"""

from __future__ import annotations

import math
import numbers

import torch

from coursekit.face.distances import check_labels, label_masks, pairwise_distances

__all__ = ["batch_hard_triplet_loss", "triplet_loss"]

_REDUCTIONS = ("sum", "mean", "none")


def _check_alpha(alpha: float) -> None:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not math.isfinite(alpha) \
            or alpha < 0:
        raise ValueError(f"alpha (the margin) must be a finite number >= 0, got {alpha!r}")


def _reduce(losses: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    if reduction == "mean":  # an empty batch gives 0, not NaN
        return losses.sum() / max(losses.numel(), 1)
    raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def triplet_loss(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    alpha: float = 0.2,
    reduction: str = "sum",
) -> torch.Tensor:
    """The lecture's triplet loss on squared L2 distances.

    Args:
        anchor: ``(B, E)`` encodings f(A).
        positive: ``(B, E)`` encodings f(P) of the same people.
        negative: ``(B, E)`` encodings f(N) of other people.
        alpha: the margin.
        reduction: ``"sum"`` (the lecture's J, default), ``"mean"`` (0 for an empty batch) or
            ``"none"`` (the ``(B,)`` losses).

    Returns:
        A scalar, or ``(B,)`` for ``reduction="none"``.

    Raises:
        ValueError: the three shapes differ or are not ``(B, E)``, ``alpha`` is not a finite
            number >= 0, or ``reduction`` is unknown.

    Example:
        >>> a = torch.tensor([[1.0, 0.0]]); p = torch.tensor([[0.8, 0.6]]); n = torch.tensor([[0.0, 1.0]])
        >>> triplet_loss(a, p, n)  # 0.4 - 2.0 + 0.2 < 0
        tensor(0.)
        >>> triplet_loss(a, n, p)  # 2.0 - 0.4 + 0.2
        tensor(1.8000)
    """
    if anchor.ndim != 2 or anchor.shape != positive.shape or anchor.shape != negative.shape:
        raise ValueError(
            "anchor, positive and negative must all be (B, E); got "
            f"{tuple(anchor.shape)}, {tuple(positive.shape)}, {tuple(negative.shape)}"
        )
    _check_alpha(alpha)
    d_ap = (anchor - positive).pow(2).sum(1)  # (B,)
    d_an = (anchor - negative).pow(2).sum(1)
    return _reduce(torch.relu(d_ap - d_an + alpha), reduction)


def _batch_hard(embeddings: torch.Tensor, labels: torch.Tensor, alpha: float, squared: bool = True):
    """Per-anchor batch-hard losses ``(B,)`` and the mask of anchors with a valid triplet."""
    check_labels(embeddings, labels)
    _check_alpha(alpha)
    labels = labels.to(embeddings.device)  # masks meet d in torch.where: one device
    if len(labels) == 0:
        return embeddings.sum(1), torch.zeros(0, dtype=torch.bool, device=labels.device)
    d = pairwise_distances(embeddings, squared=squared)  # (B, B)
    pos, neg = label_masks(labels)  # (B, B) each
    hardest_pos = torch.where(pos, d, torch.zeros_like(d)).amax(1)  # d >= 0, so 0 is neutral
    big = torch.finfo(d.dtype).max
    hardest_neg = torch.where(neg, d, torch.full_like(d, big)).amin(1)
    valid = pos.any(1) & neg.any(1)
    losses = torch.relu(hardest_pos - torch.where(valid, hardest_neg, hardest_pos) + alpha)
    return losses * valid.to(losses.dtype), valid


def batch_hard_triplet_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    alpha: float = 0.2,
    *,
    reduction: str = "mean",
    squared: bool = True,
) -> torch.Tensor:
    """Batch-hard triplet loss: each anchor with its farthest positive and nearest negative.

    Args:
        embeddings: ``(B, E)`` encodings.
        labels: ``(B,)`` integer person labels (on any device: moved to the encodings').
        alpha: the margin.
        reduction: ``"mean"`` (default: the average over anchors that have both a positive and
            a negative in the batch; 0, not NaN, when none has), ``"sum"`` (the lecture's J)
            or ``"none"`` (``(B,)``, 0 for anchors without a valid triplet).
        squared: squared L2 distances (default, as in the lecture) or plain L2.

    Returns:
        A scalar, or ``(B,)`` for ``reduction="none"``.

    Example:
        >>> e = torch.tensor([[0.0], [0.5], [0.8], [1.5]])
        >>> batch_hard_triplet_loss(e, torch.tensor([0, 0, 1, 1]), alpha=0.2, reduction="none")
        tensor([0.0000, 0.3600, 0.6000, 0.0000])
    """
    losses, valid = _batch_hard(embeddings, labels, alpha, squared)
    if reduction == "mean":
        return losses.sum() / valid.sum().clamp_min(1).to(losses.dtype)
    return _reduce(losses, reduction)
