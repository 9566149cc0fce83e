"""Margin softmax losses over the training identities: an auxiliary term for the triplet loss.

The lecture trains f(x) with the triplet loss alone. On a tiny training set (30 Olivetti
people) the batch-hard triplet loss soon reaches zero and stops teaching; a classification
loss over the training identities, computed on the same L2-normalised encodings, keeps pulling
every person's encodings towards one direction and away from the others. Each person ``c`` has
a learned direction ``w_c``; the logits are the scaled cosines ``s cos(theta_c)`` with a margin
on the true class ``y``:

* ``"softmax"``: ``s cos(theta_y)``, the normalised softmax (Wang et al., "NormFace", 2017);
* ``"cosface"``: ``s (cos(theta_y) - m)`` (Wang et al., "CosFace", CVPR 2018);
* ``"arcface"``: ``s cos(theta_y + m)`` (Deng et al., "ArcFace", CVPR 2019; where
  ``theta_y + m > pi`` it uses ``cos(theta_y) - m sin(m)``, the reference implementation's
  monotonic continuation).

The loss is the cross-entropy of those logits, optionally with label smoothing (Szegedy et al.,
"Rethinking the Inception Architecture", 2016): the target puts ``1 - eps`` on the true class and
spreads ``eps`` evenly over all ``C`` classes, so the loss stops rewarding ever more confident
logits once the true class clearly wins. The classifier's directions are thrown away
after training: new people are still enrolled with one photo (lesson 4.2), never by retraining.
Shapes: ``B`` batch, ``E`` encoding size, ``C`` training identities.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MARGIN_LOSSES", "MarginSoftmaxLoss", "cosine_logits", "margin_softmax_loss"]

MARGIN_LOSSES = ("softmax", "cosface", "arcface")
"""The ``kind`` values :func:`margin_softmax_loss` accepts."""


def cosine_logits(embeddings: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Cosine of the angle between every encoding and every class direction.

    Args:
        embeddings: ``(B, E)`` encodings (normalised here, any norm accepted).
        weights: ``(C, E)`` one direction per class (normalised here).

    Returns:
        ``(B, C)`` cosines in [-1, 1].

    Example:
        >>> cosine_logits(torch.tensor([[2.0, 0.0]]), torch.tensor([[1.0, 0.0], [1.0, 1.0]]))
        tensor([[1.0000, 0.7071]])
    """
    if embeddings.ndim != 2 or weights.ndim != 2 or embeddings.shape[1] != weights.shape[1]:
        raise ValueError(f"embeddings must be (B, E) and weights (C, E); got {tuple(embeddings.shape)} "
                         f"and {tuple(weights.shape)}")
    return F.normalize(embeddings, dim=1) @ F.normalize(weights, dim=1).t()  # (B, C)


def margin_softmax_loss(
    embeddings: torch.Tensor,
    weights: torch.Tensor,
    labels: torch.Tensor,
    *,
    kind: str = "cosface",
    scale: float = 30.0,
    margin: float = 0.35,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """Cross-entropy of the scaled cosine logits with a margin on the true class.

    Args:
        embeddings: ``(B, E)`` encodings.
        weights: ``(C, E)`` class directions.
        labels: ``(B,)`` class indices in ``0..C-1``.
        kind: ``"softmax"`` (no margin), ``"cosface"`` (``cos - m``) or ``"arcface"``
            (``cos(theta + m)``) on the true class.
        scale: ``s``, the logits' scale (the inverse temperature of the softmax).
        margin: ``m`` (a cosine for CosFace, an angle in radians for ArcFace; unused by
            ``"softmax"``).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (``(B,)``).
        label_smoothing: ``eps`` in [0, 1): the cross-entropy's target is
            ``(1 - eps) one_hot(y) + eps / C`` (``F.cross_entropy``'s ``label_smoothing``);
            0 (default) is the plain cross-entropy.

    Returns:
        A scalar, or ``(B,)`` for ``reduction="none"``.

    Raises:
        ValueError: bad shapes, a label outside ``0..C-1``, an unknown ``kind`` or
            ``reduction``, or ``scale <= 0``, ``margin < 0``, ``label_smoothing`` outside [0, 1).

    Example:
        >>> z = torch.tensor([[1.0, 0.0]]); w = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> y = torch.tensor([0])  # cos = (1, 0): logits s (1 - m, 0) = (6.5, 0)
        >>> margin_softmax_loss(z, w, y, scale=10.0, margin=0.35)  # log(1 + exp(-6.5))
        tensor(0.0015)
    """
    if kind not in MARGIN_LOSSES:
        raise ValueError(f"kind must be one of {MARGIN_LOSSES}, got {kind!r}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if scale <= 0 or margin < 0:
        raise ValueError(f"need scale > 0 and margin >= 0, got scale={scale}, margin={margin}")
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must lie in [0, 1), got {label_smoothing}")
    cos = cosine_logits(embeddings, weights)  # (B, C)
    if labels.shape != (embeddings.shape[0],):
        raise ValueError(f"labels must be ({embeddings.shape[0]},) to match embeddings, got shape "
                         f"{tuple(labels.shape)}")
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= weights.shape[0]):
        raise ValueError(f"labels must lie in 0..{weights.shape[0] - 1} (one weight row per class)")
    labels = labels.to(cos.device)  # the targets meet the logits in where and cross_entropy
    target = F.one_hot(labels, weights.shape[0]).bool()  # (B, C)
    if kind == "cosface":
        cos = torch.where(target, cos - margin, cos)
    elif kind == "arcface":
        sin = (1 - cos.pow(2)).clamp_min(1e-12).sqrt()
        shifted = cos * math.cos(margin) - sin * math.sin(margin)  # cos(theta + m)
        fallback = cos - margin * math.sin(margin)  # where theta + m > pi
        cos = torch.where(target, torch.where(cos > math.cos(math.pi - margin), shifted, fallback), cos)
    return F.cross_entropy(scale * cos, labels, reduction=reduction, label_smoothing=label_smoothing)


class MarginSoftmaxLoss(nn.Module):
    """:func:`margin_softmax_loss` with learned class directions ``weights`` ``(C, E)``.

    Args:
        num_classes: ``C``, the training identities.
        embedding_dim: ``E``.
        kind, scale, margin, label_smoothing: as in :func:`margin_softmax_loss`.

    Shape:
        - embeddings: ``(B, E)``, labels: ``(B,)``.
        - output: a scalar (the mean over the batch).

    Example:
        >>> torch.manual_seed(0) and None
        >>> head = MarginSoftmaxLoss(3, 8)
        >>> loss = head(torch.randn(4, 8), torch.tensor([0, 1, 2, 0]))
        >>> loss.shape, bool(loss > 0)
        (torch.Size([]), True)
    """

    def __init__(self, num_classes: int, embedding_dim: int, *, kind: str = "cosface", scale: float = 30.0,
                 margin: float = 0.35, label_smoothing: float = 0.0) -> None:
        super().__init__()
        if num_classes < 2 or embedding_dim < 1:
            raise ValueError(f"need num_classes >= 2 and embedding_dim >= 1, got {num_classes}, "
                             f"{embedding_dim}")
        if kind not in MARGIN_LOSSES:
            raise ValueError(f"kind must be one of {MARGIN_LOSSES}, got {kind!r}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {label_smoothing}")
        self.kind, self.scale, self.margin = kind, float(scale), float(margin)
        self.label_smoothing = float(label_smoothing)
        self.weights = nn.Parameter(torch.randn(num_classes, embedding_dim) * 0.01)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return margin_softmax_loss(embeddings, self.weights, labels, kind=self.kind, scale=self.scale,
                                   margin=self.margin, label_smoothing=self.label_smoothing)
