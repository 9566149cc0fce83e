"""Self-checks for the face-recognition losses of lessons 4.4 and 4.5: ``triplet_loss`` and
``chi2_features``.

Distances are squared L2 (FaceNet, Schroff et al. 2015). The references below are written
independently of :mod:`coursekit.face`, in a few lines of plain torch each.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from coursekit.exercises.face import SQUARED_L2_HINT
from coursekit.exercises.framework import Case, CheckResult, Mistake, floats, rand, randn, run_check

__all__ = ["check_chi2_features", "check_triplet_loss"]


# ---------------------------------------------------------------------------------------------
# 4.4 triplet_loss


def check_triplet_loss(triplet_loss: Callable) -> CheckResult:
    """Check ``triplet_loss(anchor, positive, negative, alpha=0.2)``: a scalar
    Σ_i max(‖a_i − p_i‖² − ‖a_i − n_i‖² + α, 0) over the batch.

    Example (a wrong attempt, and the line that tells the student what is wrong):
        >>> check_triplet_loss(lambda anchor, positive, negative, alpha=0.2:
        ...     ((anchor - positive) ** 2).sum())
        check_triplet_loss: case 'mixed: some triplets inside the margin' failed — input: ...,
        expected: 1.07, got: 1.26 — hint: loss = Σ_i max(‖a_i−p_i‖² − ‖a_i−n_i‖² + α, 0)
        CheckResult(passed=False)
    """
    def case(name, a, p, n, hint, alpha=None):
        kwargs = {} if alpha is None else {"alpha": alpha}
        al = 0.2 if alpha is None else alpha
        pos, neg = ((a - p) ** 2).sum(dim=-1), ((a - n) ** 2).sum(dim=-1)
        per = pos - neg + al
        loss = float(per.clamp(min=0).sum())
        lpos, lneg = pos.sqrt(), neg.sqrt()
        wpos, wneg = ((a - p) ** 2).sum(dim=0), ((a - n) ** 2).sum(dim=0)
        mistakes = [
            Mistake(float(per.sum()), "apply max(·, 0) to each triplet: triplets that already "
                    "satisfy the margin must contribute 0, not a negative loss"),
            Mistake(max(float(per.sum()), 0.0), "apply max(·, 0) to EACH triplet before summing, "
                    "not once to the total"),
            Mistake(float(per.clamp(min=0).mean()), "sum the per-triplet losses over the batch "
                    "(do not average them)"),
            Mistake(float((lpos - lneg + al).clamp(min=0).sum()), SQUARED_L2_HINT),
            Mistake(float((wpos - wneg + al).clamp(min=0).sum()), "compute one distance per "
                    "triplet: sum the squared differences over the embedding axis (dim=-1), "
                    "not over the batch"),
            Mistake(float((pos - neg + 0.2).clamp(min=0).sum()), "use the alpha argument, not a "
                    "hard-coded 0.2"),
            Mistake(float((neg - pos + al).clamp(min=0).sum()), "the positive distance comes "
                    "first: ‖a−p‖² − ‖a−n‖² + α"),
        ]
        if alpha is None:
            mistakes = [m for m in mistakes if "hard-coded" not in m.hint]
        return Case(name, (a, p, n), loss, hint, kwargs=kwargs, mistakes=mistakes)

    a = floats(0, 0, 0, 0, 0, 0).reshape(3, 2)
    p = floats(1, 0, 0, 0.5, 0.1, 0).reshape(3, 2)    # ‖a−p‖² = 1, 0.25, 0.01
    n = floats(0, 0.5, 2, 0, 0, 0.3).reshape(3, 2)    # ‖a−n‖² = 0.25, 4, 0.09
    a8, p8 = randn(4, 4, seed=31), randn(4, 4, seed=32)
    n8 = randn(4, 4, seed=33)
    cases = [
        case("mixed: some triplets inside the margin", a, p, n,
             "loss = Σ_i max(‖a_i−p_i‖² − ‖a_i−n_i‖² + α, 0)"),
        case("all triplets satisfy the margin → 0", a, a + 0.01, a + 3.0,
             "when every ‖a−n‖² exceeds ‖a−p‖² + α the loss is exactly 0"),
        case("alpha=1.5 given as keyword", a, p, n, "use the alpha argument", alpha=1.5),
        case("random 4×4 batch", a8, p8, n8,
             "one squared distance per triplet (sum over dim=-1), then max(·, 0), then sum"),
        case("single triplet, E=16", randn(1, 16, seed=34), randn(1, 16, seed=35),
             randn(1, 16, seed=36), "a batch of one gives a single max(·, 0) term"),
        case("alpha=0", a8, p8, n8, "with alpha=0 only triplets whose negative is nearer count",
             alpha=0.0),
    ]
    return run_check("check_triplet_loss", triplet_loss, cases)


# ---------------------------------------------------------------------------------------------
# 4.5 chi2_features


def check_chi2_features(chi2_features: Callable) -> CheckResult:
    """Check ``chi2_features(f_i, f_j, eps=1e-6)``: (B, E), (B, E) → (B, E) with
    (f_i − f_j)² / (|f_i| + |f_j| + eps).

    Example (a wrong attempt, and the line that tells the student what is wrong):
        >>> check_chi2_features(lambda f_i, f_j, eps=1e-6: f_i - f_j)
        check_chi2_features: case 'non-negative encodings' failed — input: ..., got: ... —
        hint: (f_i − f_j)² / (|f_i| + |f_j| + eps), element-wise
        CheckResult(passed=False)
    """
    def case(name, fi, fj, hint, eps=None):
        kwargs = {} if eps is None else {"eps": eps}
        e = 1e-6 if eps is None else eps
        num = (fi - fj) ** 2
        den = fi.abs() + fj.abs() + e
        out = num / den
        mistakes = [
            Mistake(num / (fi + fj + e), "use |f_i| + |f_j| in the denominator (encodings can be "
                    "negative)"),
            Mistake(out.sum(dim=1), "keep one feature per embedding dimension: return (B, E), "
                    "do not sum"),
            Mistake((fi - fj).abs() / den, "square the difference in the numerator"),
            Mistake(num / (fi.abs() + fj.abs() + 1e-6), "use the eps argument, not a hard-coded "
                    "1e-6"),
            Mistake(num / (fi.abs() + fj.abs()), "add eps to the denominator so 0/0 cannot "
                    "give nan"),
        ]
        if eps is None:
            mistakes = [m for m in mistakes if "hard-coded" not in m.hint]
        return Case(name, (fi, fj), out, hint, kwargs=kwargs, mistakes=mistakes)

    fi, fj = rand(3, 4, seed=41), rand(3, 4, seed=42)
    zeros = torch.zeros(2, 3)
    cases = [
        case("non-negative encodings", fi, fj, "(f_i − f_j)² / (|f_i| + |f_j| + eps), element-wise"),
        case("encodings with negative values", randn(3, 5, seed=43), randn(3, 5, seed=44),
             "use the absolute values |f_i| + |f_j| in the denominator"),
        case("zeros in both (0/0)", zeros, torch.cat([zeros[:1], rand(1, 3, seed=45)]),
             "eps in the denominator keeps 0/0 at 0 instead of nan"),
        case("eps=0.5 given as keyword", fi, fj, "use the eps argument", eps=0.5),
        case("square batch 4×4", rand(4, 4, seed=46), rand(4, 4, seed=47),
             "return (B, E), one feature per dimension"),
    ]
    return run_check("check_chi2_features", chi2_features, cases)
