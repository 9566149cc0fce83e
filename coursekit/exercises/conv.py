"""Self-checks for lesson 4.11 (1-D and 3-D convolutions): ``conv_output_shape`` and the loop
version of a 1-D convolution ``conv1d_naive``.

Deep-learning "convolution" is cross-correlation: the kernel is not flipped. The references are
written independently, in plain torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from coursekit.exercises.framework import Case, CheckResult, Mistake, randn, run_check

__all__ = ["check_conv1d", "check_conv_output_shape"]


def check_conv_output_shape(conv_output_shape: Callable) -> CheckResult:
    """Check ``conv_output_shape(n, f, stride=1, padding=0)`` = ⌊(n + 2p − f)/s⌋ + 1, an int.

    Example (a wrong attempt, and the line that tells the student what is wrong):
        >>> check_conv_output_shape(lambda n, f, stride=1, padding=0: n - f + 1)
        check_conv_output_shape: case ''same' padding 1' failed — input: 5, 3, padding=1,
        expected: 5, got: 3 — hint: padding 1 on both sides keeps 5
        CheckResult(passed=False)
    """
    def case(name, n, f, hint, stride=None, padding=None, positional=False):
        s = 1 if stride is None else stride
        p = 0 if padding is None else padding
        if positional:
            args, kwargs = (n, f, s, p), {}
        else:
            args = (n, f)
            kwargs = {k: v for k, v in (("stride", stride), ("padding", padding)) if v is not None}
        mistakes = [
            Mistake((n + 2 * p - f) / s + 1, "use floor division //: the output size is an int, "
                    "⌊(n + 2p − f)/s⌋ + 1"),
            Mistake((n + 2 * p - f) // s, "add 1: a filter fits at ⌊(n + 2p − f)/s⌋ + 1 positions "
                    "(off by one)"),
            Mistake((n + 2 * p - f) // s + 2, "add 1, not 2: ⌊(n + 2p − f)/s⌋ + 1"),
            Mistake((n + 2 * p - f + 1) // s, "the + 1 comes after the division: "
                    "⌊(n + 2p − f)/s⌋ + 1"),
            Mistake((n + p - f) // s + 1, "padding is added on both sides: n + 2p"),
            Mistake(math.ceil((n + 2 * p - f) / s) + 1, "round DOWN (floor), not up: a filter "
                    "that would stick out past the padding is not applied"),
            Mistake(n + 2 * p - f + 1, "divide by the stride"),
            Mistake((n - 2 * p - f) // s + 1, "padding makes the input larger: n + 2p"),
        ]
        return Case(name, args, (n + 2 * p - f) // s + 1, hint, kwargs=kwargs, mistakes=mistakes)

    cases = [
        case("n=6, f=3, no padding", 6, 3, "n − f + 1 = 4 without padding or stride"),
        case("'same' padding 1", 5, 3, "padding 1 on both sides keeps 5", padding=1),
        case("stride 2, divisible", 7, 3, "⌊(7 − 3)/2⌋ + 1 = 3", stride=2),
        case("stride 2, not divisible", 8, 3, "⌊(8 − 3)/2⌋ + 1 = 3: floor the division", stride=2),
        case("ResNet stem 224, 7, s=2, p=3", 224, 7, "⌊(224 + 6 − 7)/2⌋ + 1 = 112", stride=2,
             padding=3),
        case("filter as large as the input", 4, 4, "a 4-wide filter fits once in 4"),
        case("positional stride=1, padding=2", 32, 5, "the 3rd argument is stride, the 4th "
             "padding", stride=1, padding=2, positional=True),
        case("stride 3, padding 1", 10, 4, "⌊(10 + 2 − 4)/3⌋ + 1 = 3", stride=3, padding=1),
    ]
    return run_check("check_conv_output_shape", conv_output_shape, cases)


def check_conv1d(conv1d_naive: Callable) -> CheckResult:
    """Check ``conv1d_naive(x, w)``: x (L,), w (f,) → (L − f + 1,) cross-correlation,
    out[i] = Σ_k x[i + k]·w[k] (no kernel flip).

    Example (a wrong attempt, and the line that tells the student what is wrong):
        >>> check_conv1d(lambda x, w: x)
        check_conv1d: case 'difference kernel [1, 0, −1]' failed — input: ..., got: ... —
        hint: expected shape (3,), got (5,); out[i] = x[i] − x[i + 2] → [−2, −3, −5]
        CheckResult(passed=False)
    """
    def xcorr(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return x.unfold(0, w.shape[0], 1) @ w  # (L - f + 1, f) @ (f,)

    def case(name, x, w, hint):
        out = xcorr(x, w)
        padded = xcorr(torch.cat([x, torch.zeros(w.shape[0] - 1)]), w)
        mistakes = [
            Mistake(xcorr(x, w.flip(0)), "don't flip the kernel: deep-learning convolution is "
                    "cross-correlation, out[i] = Σ_k x[i + k]·w[k]"),
            Mistake(out[:-1], "the output has L − f + 1 entries: loop over range(L − f + 1) "
                    "(off by one)"),
            Mistake(padded, "a 'valid' convolution has L − f + 1 entries: stop where the kernel "
                    "reaches the end of x (no padding)"),
            Mistake(out / w.shape[0], "sum the products x[i + k]·w[k] (do not average them)"),
            Mistake(x[: out.shape[0]] * w.sum(), "multiply each window x[i : i + f] element-wise "
                    "by w, then sum"),
        ]
        return Case(name, (x, w), out, hint, mistakes=mistakes)

    t = lambda *v: torch.tensor(v, dtype=torch.float32)  # noqa: E731
    cases = [
        case("difference kernel [1, 0, −1]", t(1, 2, 3, 5, 8), t(1, 0, -1),
             "out[i] = x[i] − x[i + 2] → [−2, −3, −5]"),
        case("asymmetric kernel [1, 2, 3]", t(0, 1, 0, 0, 2, 0), t(1, 2, 3),
             "out[i] = x[i]·1 + x[i+1]·2 + x[i+2]·3"),
        case("random L=12, f=4", randn(12, seed=111), randn(4, seed=112),
             "out[i] = Σ_k x[i + k]·w[k], length L − f + 1 = 9"),
        case("kernel of size 1", randn(5, seed=113), t(2.5), "a size-1 kernel scales x"),
        case("kernel as long as x", randn(6, seed=114), randn(6, seed=115),
             "f = L gives one output, the dot product"),
        case("ECG-like L=50, f=5", randn(50, seed=116), randn(5, seed=117),
             "length L − f + 1 = 46"),
    ]
    return run_check("check_conv1d", conv1d_naive, cases)
