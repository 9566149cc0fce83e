"""The face-loss self-checks (lessons 4.4 and 4.5: ``triplet_loss``, ``chi2_features``) pass the
reference solutions and catch each classic mistake with its own hint. The wrong implementations
below are kept on purpose: each one is a mistake students make."""

from __future__ import annotations

import torch
from check_helpers import check_tests

from coursekit.exercises import check_chi2_features, check_triplet_loss

# ----------------------------------------------------------------------------- triplet_loss


def _d(x, y, dim=-1):
    return ((x - y) ** 2).sum(dim=dim)


def triplet_loss(anchor, positive, negative, alpha=0.2):
    return torch.clamp(_d(anchor, positive) - _d(anchor, negative) + alpha, min=0).sum()


WRONG_TRIPLETS = {
    "missing max": (lambda a, p, n, alpha=0.2: (_d(a, p) - _d(a, n) + alpha).sum(),
                    "apply max(·, 0) to each triplet"),
    "max after sum": (lambda a, p, n, alpha=0.2: torch.clamp((_d(a, p) - _d(a, n) + alpha).sum(), min=0),
                      "before summing"),
    "mean": (lambda a, p, n, alpha=0.2: torch.clamp(_d(a, p) - _d(a, n) + alpha, min=0).mean(),
             "do not average"),
    "L2": (lambda a, p, n, alpha=0.2: torch.clamp((a - p).norm(dim=-1) - (a - n).norm(dim=-1) + alpha,
                                                  min=0).sum(), "SQUARED L2"),
    "wrong axis": (lambda a, p, n, alpha=0.2: torch.clamp(_d(a, p, 0) - _d(a, n, 0) + alpha, min=0).sum(),
                   "over the embedding axis"),
    "hard-coded alpha": (lambda a, p, n, alpha=0.2: torch.clamp(_d(a, p) - _d(a, n) + 0.2, min=0).sum(),
                         "use the alpha argument"),
    "swapped": (lambda a, p, n, alpha=0.2: torch.clamp(_d(a, n) - _d(a, p) + alpha, min=0).sum(),
                "positive distance comes first"),
    "per triplet": (lambda a, p, n, alpha=0.2: torch.clamp(_d(a, p) - _d(a, n) + alpha, min=0),
                    "expected a single number"),
}




# ----------------------------------------------------------------------------- chi2_features


def chi2_features(f_i, f_j, eps=1e-6):
    return (f_i - f_j) ** 2 / (f_i.abs() + f_j.abs() + eps)


WRONG_CHI2 = {
    "no abs": (lambda fi, fj, eps=1e-6: (fi - fj) ** 2 / (fi + fj + eps), "|f_i| + |f_j|"),
    "summed": (lambda fi, fj, eps=1e-6: ((fi - fj) ** 2 / (fi.abs() + fj.abs() + eps)).sum(1), "do not sum"),
    "not squared": (lambda fi, fj, eps=1e-6: (fi - fj).abs() / (fi.abs() + fj.abs() + eps), "square the"),
    "no eps": (lambda fi, fj, eps=1e-6: (fi - fj) ** 2 / (fi.abs() + fj.abs()), "add eps"),
    "hard-coded eps": (lambda fi, fj, eps=1e-6: (fi - fj) ** 2 / (fi.abs() + fj.abs() + 1e-6),
                       "use the eps argument"),
}


test_passes_reference, test_catches_mistake = check_tests(
    (check_triplet_loss, triplet_loss, 6, WRONG_TRIPLETS),
    (check_chi2_features, chi2_features, 5, WRONG_CHI2),
)
