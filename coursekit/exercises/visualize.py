"""Self-check for the receptive-field exercise of lesson 4.7 (what deep ConvNets learn).

The receptive field of a stack of layers grows by (k − 1)·j per layer, where j, the jump, is the
product of the strides of the layers before it (Zeiler & Fergus 2013 visualise exactly these
patches). The reference below is the three-line recurrence, written independently.
"""

from __future__ import annotations

from collections.abc import Callable

from coursekit.exercises.framework import Case, CheckResult, Mistake, run_check

__all__ = ["check_receptive_field"]


def _rf(layers, *, jump_first: bool = False, use_jump: bool = True, minus_one: bool = True):
    r, j = 1, 1
    for k, s in layers:
        if jump_first:
            j *= s
        r += (k - 1 if minus_one else k) * (j if use_jump else 1)
        if not jump_first:
            j *= s
    return r, j


def check_receptive_field(receptive_field: Callable) -> CheckResult:
    """Check ``receptive_field(layers) -> (size, jump)`` for a list of (kernel_size, stride):
    r ← r + (k − 1)·j, j ← j·s, starting from r = 1, j = 1.

    Example (a wrong attempt, and the line that tells the student what is wrong):
        >>> check_receptive_field(lambda layers: (sum(k for k, s in layers), 1))
        check_receptive_field: case 'no layers' failed — input: [], expected: (1, 1), got: (0, 1)
        — hint: start from r = 1 (one pixel) and j = 1
        CheckResult(passed=False)
    """
    def case(name, layers, hint):
        r, j = _rf(layers)
        mistakes = [
            Mistake(_rf(layers, jump_first=True), "grow r with the jump of the layers BEFORE this "
                    "one: update r first, then j ← j·s"),
            Mistake(_rf(layers, use_jump=False), "multiply (k − 1) by the current jump j: after a "
                    "stride-s layer each step moves s input pixels"),
            Mistake(_rf(layers, minus_one=True, use_jump=True)[::-1], "return (size, jump) in "
                    "that order"),
            Mistake(_rf(layers, minus_one=False), "each layer adds (k − 1)·j, not k·j (a 1×1 "
                    "kernel adds nothing)"),
        ]
        return Case(name, (layers,), (r, j), hint, mistakes=mistakes)

    vgg = [(3, 1), (3, 1), (2, 2), (3, 1), (3, 1), (2, 2), (3, 1), (3, 1), (3, 1)]
    cases = [
        case("no layers", [], "start from r = 1 (one pixel) and j = 1"),
        case("one 3×3 conv", [(3, 1)], "a 3×3 kernel sees 3 pixels: r = 1 + (3 − 1)·1"),
        case("three 3×3 convs", [(3, 1)] * 3, "three 3×3 convs see 7 pixels, like one 7×7"),
        case("pool then conv", [(2, 2), (3, 1)],
             "after the stride-2 pool the 3×3 conv adds (3 − 1)·2: (6, 2)"),
        case("conv then pool", [(3, 1), (2, 2)], "the pool adds (2 − 1)·1, then j becomes 2: (4, 2)"),
        case("VGG-16 up to conv3_3", vgg, "apply the recurrence layer by layer: (40, 4)"),
        case("ResNet stem 7/2, 3/2, 3/1", [(7, 2), (3, 2), (3, 1)],
             "r = 1 + 6·1 = 7, then + 2·2 = 11, then + 2·4 = 19; j = 4"),
    ]
    return run_check("check_receptive_field", receptive_field, cases)
