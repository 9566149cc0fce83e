"""Pairwise distances between encodings (lesson 4.3: d(x1, x2) = ||f(x1) - f(x2)||^2).

Squared Euclidean distances through ||x||^2 + ||y||^2 - 2 x.y (one matrix product, so a
1024 x 1024 batch costs one GEMM), made safe for training: rounding can make the expansion
slightly negative, so it is clamped at 0; the diagonal of a self-distance matrix is set to
exactly 0; and the square root (``squared=False``) has a finite gradient at 0.

:func:`label_masks` says which pairs of a batch are positives (same person) and negatives
(different people), the masks every batch loss and miner starts from; :func:`check_labels`
checks that labels fit a batch of encodings.
"""

from __future__ import annotations

import torch

__all__ = ["check_labels", "label_masks", "pairwise_distances"]


def pairwise_distances(
    x: torch.Tensor, y: torch.Tensor | None = None, squared: bool = True
) -> torch.Tensor:
    """All distances between the rows of ``x`` and the rows of ``y``.

    Args:
        x: ``(N, E)`` encodings.
        y: ``(M, E)`` encodings; ``None`` means ``x`` itself (then the diagonal is exactly 0).
        squared: ``True`` gives ||x_i - y_j||^2 (the course's d); ``False`` the Euclidean
            distance, whose gradient is 0 (not NaN) where the distance is 0.

    Returns:
        ``(N, M)`` non-negative distances, on ``x``'s device and dtype.

    Raises:
        ValueError: ``x`` or ``y`` is not 2-D, or their widths ``E`` differ.

    Example:
        >>> x = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
        >>> pairwise_distances(x)
        tensor([[ 0., 25.],
                [25.,  0.]])
        >>> pairwise_distances(x, squared=False)
        tensor([[0., 5.],
                [5., 0.]])
    """
    if x.ndim != 2:
        raise ValueError(f"x must be (N, E), got shape {tuple(x.shape)}")
    if y is not None and (y.ndim != 2 or y.shape[1] != x.shape[1]):
        raise ValueError(f"y must be (M, E) with E = {x.shape[1]} like x {tuple(x.shape)}, "
                         f"got shape {tuple(y.shape)}")
    other = x if y is None else y
    x_sq = (x * x).sum(1, keepdim=True)  # (N, 1)
    y_sq = x_sq.T if y is None else (other * other).sum(1).unsqueeze(0)  # (1, M)
    d = (x_sq + y_sq - 2.0 * (x @ other.T)).clamp_min(0.0)  # (N, M)
    if y is None:
        d = d * (1.0 - torch.eye(x.shape[0], device=x.device, dtype=x.dtype))  # exact zeros
    if squared:
        return d
    zero = d == 0
    return torch.sqrt(d + zero.to(d.dtype)) * (~zero).to(d.dtype)  # sqrt(1) keeps the gradient finite


def check_labels(embeddings: torch.Tensor, labels: torch.Tensor) -> None:
    """Check that ``labels`` are ``(B,)`` integer person labels for ``embeddings`` ``(B, E)``.

    Raises:
        ValueError: a shape does not match, or the labels are not integers (float labels
            would compare unequal after rounding and silently change who is a positive).

    Example:
        >>> check_labels(torch.zeros(3, 2), torch.tensor([0.0, 0.0, 1.0]))
        Traceback (most recent call last):
        ...
        ValueError: labels must be integers (person ids), got dtype torch.float32
    """
    if embeddings.ndim != 2:
        raise ValueError(f"embeddings must be (B, E), got shape {tuple(embeddings.shape)}")
    if labels.shape != (embeddings.shape[0],):
        raise ValueError(f"labels must be ({embeddings.shape[0]},) to match embeddings "
                         f"{tuple(embeddings.shape)}, got shape {tuple(labels.shape)}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"labels must be integers (person ids), got dtype {labels.dtype}")


def label_masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The positive and negative pairs of a batch.

    Args:
        labels: ``(B,)`` integer person labels.

    Returns:
        ``(positive, negative)``, boolean ``(B, B)`` on ``labels``' device: ``positive[i, j]``
        when ``i != j`` show the same person, ``negative[i, j]`` when they show different people.

    Example:
        >>> pos, neg = label_masks(torch.tensor([0, 0, 1]))
        >>> pos.int().tolist(), neg.int().tolist()
        ([[0, 1, 0], [1, 0, 0], [0, 0, 0]], [[0, 0, 1], [0, 0, 1], [1, 1, 0]])
    """
    if labels.ndim != 1:
        raise ValueError(f"labels must be (B,), got shape {tuple(labels.shape)}")
    same = labels.unsqueeze(0) == labels.unsqueeze(1)  # (B, B)
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same
