"""The face-recognition self-checks of lessons 4.1-4.3 pass the reference solutions and catch
each classic mistake with its own hint. The wrong implementations below are kept on purpose:
each one is a mistake students make."""

from __future__ import annotations

import torch
from check_helpers import check_tests, run

from coursekit.exercises import check_encoding_distance, check_verify, check_who_is_it

# ----------------------------------------------------------------------------- verify


def verify(encoding, database, name, threshold):
    distance = float(((encoding - database[name]) ** 2).sum())
    return distance, distance <= threshold


def verify_l2(encoding, database, name, threshold):
    distance = float(torch.linalg.norm(encoding - database[name]))
    return distance, distance <= threshold


def verify_ge(encoding, database, name, threshold):
    distance = float(((encoding - database[name]) ** 2).sum())
    return distance, distance >= threshold


def verify_strict(encoding, database, name, threshold):
    distance = float(((encoding - database[name]) ** 2).sum())
    return distance, distance < threshold


def verify_mean(encoding, database, name, threshold):
    distance = float(((encoding - database[name]) ** 2).mean())
    return distance, distance <= threshold


def verify_tensor(encoding, database, name, threshold):  # tensors instead of Python scalars: fine
    distance = ((encoding - database[name]) ** 2).sum()
    return distance, distance <= threshold


def test_verify_accepts_tensor_results(capsys):
    assert run(check_verify, verify_tensor, capsys) == (True, "check_verify: all 6 cases passed")


def test_verify_boundary_case_reports_inputs(capsys):
    _, line = run(check_verify, verify_strict, capsys)
    assert "boundary: distance == threshold" in line
    assert "expected: (25.0, True), got: (25.0, False)" in line


# ----------------------------------------------------------------------------- who_is_it


def who_is_it(encoding, database, threshold):
    best, best_d = None, float("inf")
    for name, enc in database.items():
        d = float(((encoding - enc) ** 2).sum())
        if d < best_d:
            best, best_d = name, d
    return (best if best_d <= threshold else None), best_d


def who_is_it_farthest(encoding, database, threshold):
    name, d = max(((n, float(((encoding - e) ** 2).sum())) for n, e in database.items()),
                  key=lambda item: item[1])
    return (name if d <= threshold else None), d


def who_is_it_l2(encoding, database, threshold):
    name, d = min(((n, float(torch.dist(encoding, e))) for n, e in database.items()),
                  key=lambda item: item[1])
    return (name if d <= threshold else None), d


def who_is_it_strict(encoding, database, threshold):
    name, d = min(((n, float(((encoding - e) ** 2).sum())) for n, e in database.items()),
                  key=lambda item: item[1])
    return (name if d < threshold else None), d


def who_is_it_reversed(encoding, database, threshold):
    name, d = min(((n, float(((encoding - e) ** 2).sum())) for n, e in database.items()),
                  key=lambda item: item[1])
    return (None if d <= threshold else name), d


def who_is_it_first_match(encoding, database, threshold):
    for name, e in database.items():
        d = float(((encoding - e) ** 2).sum())
        if d <= threshold:
            return name, d
    return None, min(float(((encoding - e) ** 2).sum()) for e in database.values())



# ----------------------------------------------------------------------------- encoding_distance


WRONG_DISTANCES = {
    "L2 instead of squared": (lambda f1, f2: (f1 - f2).norm(dim=1), "SQUARED L2"),
    "wrong axis": (lambda f1, f2: ((f1 - f2) ** 2).sum(dim=0), "not over the batch axis"),
    "mean instead of sum": (lambda f1, f2: ((f1 - f2) ** 2).mean(dim=1), "do not average"),
    "not squared": (lambda f1, f2: (f1 - f2).sum(dim=1), "square the differences"),
    "one number": (lambda f1, f2: ((f1 - f2) ** 2).sum(), "one distance per row"),
    "keepdim": (lambda f1, f2: ((f1 - f2) ** 2).sum(dim=1, keepdim=True), "drop keepdim"),
}


test_passes_reference, test_catches_mistake = check_tests(
    (check_verify, verify, 6, {
        "L2 instead of squared": (verify_l2, "SQUARED L2"),
        "reversed": (verify_ge, "threshold test is reversed"),
        "strict": (verify_strict, "use distance <= threshold, not <"),
        "mean": (verify_mean, "do not average"),
    }),
    (check_who_is_it, who_is_it, 6, {
        "farthest": (who_is_it_farthest, "SMALLEST distance"),
        "L2 instead of squared": (who_is_it_l2, "SQUARED L2"),
        "strict": (who_is_it_strict, "distance == threshold is a match"),
        "reversed": (who_is_it_reversed, "threshold test is reversed"),
        "first match": (who_is_it_first_match, "keep looking after the first person"),
    }),
    (check_encoding_distance, lambda f1, f2: ((f1 - f2) ** 2).sum(dim=-1), 5, WRONG_DISTANCES),
)
