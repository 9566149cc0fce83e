"""Self-checks for the face-recognition exercises of lessons 4.1–4.3: ``verify``, ``who_is_it``
and ``encoding_distance`` (the losses of 4.4 and 4.5 are in :mod:`coursekit.exercises.face_losses`).

Distances are squared L2 throughout (FaceNet, Schroff et al. 2015). The references below are
written independently of :mod:`coursekit.face`, in a few lines of plain torch each.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from coursekit.exercises.framework import Case, CheckResult, Mistake, floats, randn, run_check

__all__ = ["check_encoding_distance", "check_verify", "check_who_is_it"]

SQUARED_L2_HINT = "distances are SQUARED L2: sum of squared differences, without the square root"
_NOT_SQUARED = "square the differences before summing: ‖a−b‖² = Σ (a−b)²"
_SUM_NOT_MEAN = "sum the squared differences over the embedding (do not average them)"


def _sq(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b) ** 2).sum())


# ---------------------------------------------------------------------------------------------
# 4.1 verify


def check_verify(verify: Callable) -> CheckResult:
    """Check ``verify(encoding, database, name, threshold) -> (distance, accepted)``.

    ``distance`` is ‖encoding − database[name]‖² and ``accepted`` is ``distance <= threshold``.
    Prints one line and returns whether every case passed.

    Example (a wrong attempt, and the line that tells the student what is wrong):
        >>> check_verify(lambda encoding, database, name, threshold: (0.0, True))
        check_verify: case 'same person, accepted' failed — input: ..., expected: (0.18, True),
        got: (0.0, True) — hint: accept when distance ≤ threshold (compare the distance with the
        threshold)
        CheckResult(passed=False)
    """
    db = {"ana": floats(0, 0, 0, 0), "bo": floats(3.1, 4.2, 0, 0), "cy": floats(1, 1, 1, 1)}
    near = floats(0.3, 0.2, 0.1, 0.2)                      # ‖near − ana‖² = 0.18, ‖·‖ = 0.42
    exact = floats(3, 4, 0, 0)                              # ‖exact − ana‖² = 25 exactly
    rnd, rdb = randn(8, seed=1), {"x": randn(8, seed=2), "y": randn(8, seed=3)}
    threshold_hint = "accept when distance ≤ threshold (compare the distance with the threshold)"

    def case(name, enc, base, who, threshold, hint, extra=()):
        d = _sq(enc, base[who])
        mistakes = [Mistake((d ** 0.5, d ** 0.5 <= threshold), SQUARED_L2_HINT),
                    Mistake((d ** 0.5, d <= threshold), SQUARED_L2_HINT),
                    Mistake((d / enc.numel(), d / enc.numel() <= threshold), _SUM_NOT_MEAN),
                    Mistake((d, d >= threshold), "the threshold test is reversed: accept when "
                            "distance ≤ threshold (a small distance means the same person)"),
                    *extra]
        return Case(name, (enc, base, who, threshold), (d, d <= threshold), hint, mistakes=mistakes)

    cases = [
        case("same person, accepted", near, db, "ana", 0.3, threshold_hint),
        case("different person, rejected", exact, db, "cy", 10.0, threshold_hint),
        case("squared distance decides", near, db, "ana", 0.2,
             "0.18 ≤ 0.2 with the squared distance; the plain L2 distance 0.42 would reject"),
        case("boundary: distance == threshold", exact, db, "ana", 25.0,
             "a distance exactly equal to the threshold is accepted: use ≤, not <",
             extra=[Mistake((25.0, False), "a distance exactly equal to the threshold is "
                            "accepted: use distance <= threshold, not <")]),
        case("compare with the named person", exact, db, "bo", 0.1,
             "compare with database[name], not with another entry of the database"),
        case("random 8-d encodings", rnd, rdb, "y", 5.0, threshold_hint),
    ]
    return run_check("check_verify", verify, cases)


# ---------------------------------------------------------------------------------------------
# 4.2 who_is_it


def check_who_is_it(who_is_it: Callable) -> CheckResult:
    """Check ``who_is_it(encoding, database, threshold) -> (name or None, distance)``.

    The name is the nearest entry by squared L2 distance, ``distance`` the smallest squared
    distance, and the name is ``None`` when that distance is larger than the threshold.

    Example (a wrong attempt, and the line that tells the student what is wrong):
        >>> check_who_is_it(lambda encoding, database, threshold: (next(iter(database)), 0.0))
        check_who_is_it: case 'nearest of four' failed — input: ..., expected: ('bo', 0.01),
        got: ('ana', 0.0) — hint: return the name with the smallest squared distance and that
        distance
        CheckResult(passed=False)
    """
    db = {"ana": floats(2, 0, 0, 0), "bo": floats(0.5, 0, 0, 0), "cy": floats(0, 0.2, 0, 0),
          "dan": floats(5, 5, 5, 5)}
    enc = floats(0.4, 0, 0, 0)  # squared distances: ana 2.56, bo 0.01, cy 0.2, dan 96.16
    big = {f"p{i}": randn(16, seed=10 + i) for i in range(6)}
    query = big["p4"] + 0.3 * randn(16, seed=99)

    def case(name, encoding, base, threshold, hint):
        dists = {n: _sq(encoding, e) for n, e in base.items()}
        best = min(dists, key=dists.get)
        worst = max(dists, key=dists.get)
        d = dists[best]
        expected = (best if d <= threshold else None, d)
        first_below = next((n for n, v in dists.items() if v <= threshold), None)
        mistakes = [
            Mistake((worst, dists[worst]), "pick the SMALLEST distance (the nearest person), not "
                    "the largest"),
            Mistake((worst if dists[worst] <= threshold else None, dists[worst]),
                    "pick the SMALLEST distance (the nearest person), not the largest"),
            Mistake((best if d ** 0.5 <= threshold else None, d ** 0.5), SQUARED_L2_HINT),
            Mistake((best if d <= threshold else None, d ** 0.5), SQUARED_L2_HINT),
            Mistake((best if d < threshold else None, d), "return None only when the smallest "
                    "distance is LARGER than the threshold (distance == threshold is a match)"),
            Mistake((best if d > threshold else None, d), "the threshold test is reversed: return "
                    "None when the smallest distance is > threshold"),
            Mistake((first_below, dists.get(first_below)), "keep looking after the first person "
                    "under the threshold: return the nearest one"),
            Mistake((None, 100.0), "start the search from min_dist = float('inf'): nobody was "
                    "closer than your starting value 100"),
        ]
        return Case(name, (encoding, base, threshold), expected, hint, mistakes=mistakes)

    exact_db = {"far": floats(9, 9, 0), "edge": floats(3, 4, 0)}  # squared distance to 0: 162, 25
    cases = [
        case("nearest of four", enc, db, 0.5, "return the name with the smallest squared distance "
             "and that distance"),
        case("two under the threshold", enc, db, 3.0, "several people are under the threshold: "
             "return the nearest one"),
        case("nobody close enough", floats(10, -10, 10, -10), db, 1.0, "when the smallest distance is "
             "> threshold, return (None, smallest distance)"),
        case("squared distance decides", enc, {"cy": db["cy"], "dan": db["dan"]}, 0.3,
             "0.2 ≤ 0.3 with the squared distance; the plain L2 distance 0.45 would say None"),
        case("boundary: distance == threshold", floats(0, 0, 0), exact_db, 25.0,
             "a smallest distance exactly equal to the threshold is still a match (use ≤)"),
        case("six random 16-d people", query, big, 10.0, "return the name with the smallest "
             "squared distance and that distance"),
    ]
    return run_check("check_who_is_it", who_is_it, cases)


# ---------------------------------------------------------------------------------------------
# 4.3 encoding_distance


def check_encoding_distance(encoding_distance: Callable) -> CheckResult:
    """Check ``encoding_distance(f1, f2)``: (B, E), (B, E) → (B,) squared L2 distance per row.

    Example (a wrong attempt, and the line that tells the student what is wrong):
        >>> check_encoding_distance(lambda f1, f2: (f1 - f2).abs().max())
        check_encoding_distance: case 'batch of 3, E=5' failed — input: ..., got: 3.569 —
        hint: expected shape (3,), got (); return ((f1 − f2)²).sum over dim=1, shape (B,)
        CheckResult(passed=False)
    """
    def case(name, f1, f2, hint):
        diff2 = (f1 - f2) ** 2
        d = diff2.sum(dim=1)
        mistakes = [
            Mistake(d.sqrt(), SQUARED_L2_HINT),
            Mistake(diff2.sum(dim=0), "sum over the embedding axis (dim=1), one distance per row "
                    "— not over the batch axis (dim=0)"),
            Mistake(d / f1.shape[1], _SUM_NOT_MEAN),
            Mistake((f1 - f2).sum(dim=1), _NOT_SQUARED),
            Mistake((f1 - f2).abs().sum(dim=1), _NOT_SQUARED),
            Mistake(d.sum(), "return one distance per row, shape (B,): sum over dim=1 only"),
            Mistake(d[:, None], "return shape (B,), not (B, 1): drop keepdim"),
        ]
        return Case(name, (f1, f2), d, hint, mistakes=mistakes)

    square1, square2 = randn(4, 4, seed=21), randn(4, 4, seed=22)
    cases = [
        case("batch of 3, E=5", randn(3, 5, seed=23), randn(3, 5, seed=24),
             "return ((f1 − f2)²).sum over dim=1, shape (B,)"),
        case("square batch (B == E)", square1, square2,
             "sum over the embedding axis (dim=1), one distance per row"),
        case("small integers", floats(0, 0, 3, 0, 0, 1).reshape(2, 3), floats(4, 0, 0, 1, 2, 3).reshape(2, 3),
             "rows [0,0,3]−[4,0,0] → 25, [0,0,1]−[1,2,3] → 9"),
        case("identical rows give 0", square1, square1.clone(), "a row against itself is at distance 0"),
        case("batch of 1, E=128", randn(1, 128, seed=25), randn(1, 128, seed=26),
             "return shape (1,) for a batch of one"),
    ]
    return run_check("check_encoding_distance", encoding_distance, cases)
