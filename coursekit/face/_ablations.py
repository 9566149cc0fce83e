"""Private helpers of :func:`coursekit.face.train_encoder`'s ablation switches (issue 3).

Batch-level regularisers screened for the one-shot benchmark's ROC AUC, all off in the default
recipe (``benchmarks/RESULTS_face.md`` has their measurements): the soft-margin batch-hard
triplet loss (Hermans, Beyer & Leibe 2017), the global orthogonal regulariser (Zhang et al.,
"Learning Spread-out Local Feature Descriptors", ICCV 2017), random erasing (Zhong et al., AAAI
2020), mixup (Zhang et al., ICLR 2018) and CutMix (Yun et al., ICCV 2019). Shapes: ``B`` batch,
``E`` encoding size, ``H, W`` image side.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from coursekit.face.distances import pairwise_distances

__all__: list[str] = []  # private module: nothing re-exported


def _batch_hard_soft(z: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Soft-margin batch-hard losses ``softplus(d(a, p) - d(a, n))`` ``(B,)`` (0 for anchors without
    a positive or a negative) and the mask of anchors with both."""
    d = pairwise_distances(z)  # (B, B), squared L2
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    pos = same & ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    hardest_pos = torch.where(pos, d, torch.zeros_like(d)).amax(1)
    hardest_neg = torch.where(~same, d, torch.full_like(d, torch.finfo(d.dtype).max)).amin(1)
    valid = pos.any(1) & (~same).any(1)
    losses = F.softplus(hardest_pos - torch.where(valid, hardest_neg, hardest_pos))
    return losses * valid.to(losses.dtype), valid


def _spread_out(z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The global orthogonal regulariser over the pairs of different people of ``z`` ``(B, E)``."""
    s = (z @ z.t())[labels.unsqueeze(0) != labels.unsqueeze(1)]  # cosines of the negative pairs
    if s.numel() == 0:
        return z.sum() * 0
    return s.mean().pow(2) + (s.pow(2).mean() - 1.0 / z.shape[1]).clamp_min(0)


def _random_box(n: int, h: int, w: int, area: torch.Tensor, aspect: torch.Tensor,
                generator: torch.Generator) -> torch.Tensor:
    """``(n, 1, h, w)`` boolean masks of one random rectangle each, of ``area`` (a fraction of
    ``h * w``) and ``aspect`` (height / width), both ``(n,)``."""
    bh = (area * aspect).sqrt().mul(h).round().clamp(1, h)
    bw = (area / aspect).sqrt().mul(w).round().clamp(1, w)
    top = (torch.rand(n, generator=generator) * (h - bh + 1)).floor()
    left = (torch.rand(n, generator=generator) * (w - bw + 1)).floor()
    rows, cols = torch.arange(h).view(1, h, 1), torch.arange(w).view(1, 1, w)
    inside = ((rows >= top.view(n, 1, 1)) & (rows < (top + bh).view(n, 1, 1))
              & (cols >= left.view(n, 1, 1)) & (cols < (left + bw).view(n, 1, 1)))
    return inside.unsqueeze(1)  # (n, 1, h, w)


def _random_erase(x: torch.Tensor, prob: float, generator: torch.Generator) -> torch.Tensor:
    """Fill a random rectangle of each image, with probability ``prob``, with uniform noise."""
    B, _, H, W = x.shape
    area = 0.02 + 0.23 * torch.rand(B, generator=generator)
    aspect = torch.exp(math.log(0.3) + (math.log(3.3) - math.log(0.3)) * torch.rand(B, generator=generator))
    mask = _random_box(B, H, W, area, aspect, generator)
    mask &= (torch.rand(B, generator=generator) < prob).view(B, 1, 1, 1)
    noise = torch.rand(x.shape, generator=generator).to(x)
    return torch.where(mask.to(x.device), noise, x)


def _mix(x: torch.Tensor, kind: str, alpha: float, generator: torch.Generator
         ) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Mixup or CutMix of a batch with a random permutation of itself: ``(mixed, perm, lam)``."""
    B, _, H, W = x.shape
    lam = float(torch.distributions.Beta(alpha, alpha).sample())  # torch's RNG: the caller seeds it
    perm = torch.randperm(B, generator=generator)
    if kind == "mixup":
        return lam * x + (1 - lam) * x[perm.to(x.device)], perm, lam
    mask = _random_box(1, H, W, torch.tensor([1 - lam]), torch.ones(1), generator).to(x.device)
    lam = 1 - float(mask.float().mean())  # the share actually kept
    return torch.where(mask, x[perm.to(x.device)], x), perm, lam
