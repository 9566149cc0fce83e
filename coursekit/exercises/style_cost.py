"""Self-checks for the style-cost exercises of lesson 4.10: ``gram_matrix``,
``layer_style_cost`` and ``style_cost``.

The style matrix and cost follow Gatys, Ecker & Bethge (2015), "A Neural Algorithm of Artistic
Style", with the normalisation of the deep-learning course's assignment:
J_style⁽ˡ⁾ = 1/(2 n_H n_W n_C)² Σₖ Σₖ′ (G⁽ˡ⁾(S)ₖₖ′ − G⁽ˡ⁾(G)ₖₖ′)². Activations are channels-last
(n_H, n_W, n_C). The references below are written independently of :mod:`coursekit.style`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from coursekit.exercises.framework import Case, CheckResult, Mistake, rand, randn, run_check

__all__ = ["check_gram_matrix", "check_layer_style_cost", "check_style_cost"]


# ---------------------------------------------------------------------------------------------
# 4.10 gram_matrix, layer_style_cost, style_cost


def _gram(A: torch.Tensor) -> torch.Tensor:
    return A @ A.T


def _unroll(a: torch.Tensor) -> torch.Tensor:
    n_h, n_w, n_c = a.shape
    return a.reshape(n_h * n_w, n_c).T  # (n_C, n_H*n_W)


def _layer_cost(a_s: torch.Tensor, a_g: torch.Tensor, unroll=_unroll, scale=None) -> float:
    n = a_s.numel()
    g_s, g_g = _gram(unroll(a_s)), _gram(unroll(a_g))
    return float(((g_s - g_g) ** 2).sum()) / ((2 * n) ** 2 if scale is None else scale(n))


def _no_transpose(a: torch.Tensor) -> torch.Tensor:
    return a.reshape(a.shape[2], -1)  # the classic mistake: mixes pixels and channels


def check_gram_matrix(gram_matrix: Callable) -> CheckResult:
    """Check ``gram_matrix(A)``: A (n_C, n_H·n_W) → A·Aᵀ (n_C, n_C).

    Example (a wrong attempt, and the line that tells the student what is wrong):
        >>> check_gram_matrix(lambda A: A.T @ A)
        check_gram_matrix: case '(3, 5): 3 channels, 5 positions' failed — input: tensor (3, 5),
        expected: ..., got: tensor (5, 5) ... — hint: G = A·Aᵀ, shape (n_C, n_C): you computed Aᵀ·A
        CheckResult(passed=False)
    """
    def case(name, A, hint):
        G = A @ A.T
        mistakes = [
            Mistake(A.T @ A, "G = A·Aᵀ, shape (n_C, n_C): you computed Aᵀ·A"),
            Mistake(A * A, "use the matrix product A @ A.T, not the element-wise A * A"),
            Mistake(G / A.numel(), "no normalisation in the Gram matrix: the constants belong to "
                    "the style cost"),
            Mistake(G / A.shape[1], "no normalisation in the Gram matrix: the constants belong to "
                    "the style cost"),
            Mistake((A * A).sum(dim=1), "return the full (n_C, n_C) matrix A @ A.T"),
        ]
        return Case(name, (A,), G, hint, mistakes=mistakes)

    cases = [
        case("(3, 5): 3 channels, 5 positions", randn(3, 5, seed=71), "G = A @ A.T, shape (n_C, n_C)"),
        case("square (4, 4)", randn(4, 4, seed=72), "G = A @ A.T (not A.T @ A)"),
        case("small integers (2, 3)", torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]]),
             "[[1,2,0],[0,1,3]] · its transpose = [[5, 2], [2, 10]]"),
        case("one channel (1, 6)", randn(1, 6, seed=73), "a single channel gives a 1×1 matrix"),
        case("(8, 20)", randn(8, 20, seed=74), "G = A @ A.T, shape (n_C, n_C)"),
    ]
    return run_check("check_gram_matrix", gram_matrix, cases)


def check_layer_style_cost(layer_style_cost: Callable) -> CheckResult:
    """Check ``layer_style_cost(a_S, a_G)``: activations (n_H, n_W, n_C) →
    1/(2·n_H·n_W·n_C)²·Σ(G_S − G_G)², with the Gram matrices of the (n_C, n_H·n_W) unrolled
    activations.

    Example (a wrong attempt, and the line that tells the student what is wrong):
        >>> check_layer_style_cost(lambda a_S, a_G: ((a_S - a_G) ** 2).sum())
        check_layer_style_cost: case 'random (2, 3, 4)' failed — input: ..., got: 52.32 —
        hint: unroll to (n_C, n_H·n_W), Gram both, Σ(G_S − G_G)² / (2·n_H·n_W·n_C)²
        CheckResult(passed=False)
    """
    def case(name, a_s, a_g, hint):
        n_c = a_s.shape[2]
        mistakes = [
            Mistake(_layer_cost(a_s, a_g, _no_transpose), "transpose before the Gram matrix: "
                    "reshape (n_H, n_W, n_C) to (n_H·n_W, n_C) and then .T (or permute(2, 0, 1) "
                    "first); reshaping straight to (n_C, n_H·n_W) mixes pixels and channels"),
            Mistake(_layer_cost(a_s, a_g, scale=lambda n: 2 * n), "square the whole constant: "
                    "1/(2·n_H·n_W·n_C)², not 1/(2·n_H·n_W·n_C)"),
            Mistake(_layer_cost(a_s, a_g, scale=lambda n: 4 * n), "the style constant is "
                    "1/(2·n_H·n_W·n_C)² (1/(4·n_H·n_W·n_C) is the content cost's)"),
            Mistake(_layer_cost(a_s, a_g, scale=lambda n: 1), "normalise by 1/(2·n_H·n_W·n_C)²"),
            Mistake(_layer_cost(a_s, a_g, scale=lambda n: 4 * n_c ** 2 * (n // n_c)),
                    "(n_H·n_W) is squared too: 1/(4·n_C²·(n_H·n_W)²)"),
            Mistake(_layer_cost(a_s, a_g, scale=lambda n: n_c * n_c), "divide by (2·n_H·n_W·n_C)², "
                    "not by the number of Gram entries n_C²"),
            Mistake(_layer_cost(a_s, a_g) ** 0.5, "square the Gram differences and sum them; no "
                    "square root (not the Frobenius norm itself)"),
        ]
        return Case(name, (a_s, a_g), _layer_cost(a_s, a_g), hint, mistakes=mistakes, rtol=1e-3)

    a = randn(2, 3, 4, seed=81)
    cases = [
        case("random (2, 3, 4)", a, randn(2, 3, 4, seed=82),
             "unroll to (n_C, n_H·n_W), Gram both, Σ(G_S − G_G)² / (2·n_H·n_W·n_C)²"),
        case("identical activations → 0", a, a.clone(), "an image has the same style as itself: 0"),
        case("random (3, 2, 5)", randn(3, 2, 5, seed=83), randn(3, 2, 5, seed=84),
             "read n_H, n_W, n_C from the shape of a_S"),
        case("random (4, 4, 3)", randn(4, 4, 3, seed=85), rand(4, 4, 3, seed=86),
             "unroll with a transpose: (n_H·n_W, n_C) → .T"),
        case("one pixel (1, 1, 6)", randn(1, 1, 6, seed=87), randn(1, 1, 6, seed=88),
             "n_H = n_W = 1 gives a Gram matrix of outer products"),
    ]
    return run_check("check_layer_style_cost", layer_style_cost, cases)


def check_style_cost(style_cost: Callable) -> CheckResult:
    """Check ``style_cost(features_S, features_G, layer_weights)`` = Σ_l λ_l·J_style(l), the sum
    over the layers of ``layer_weights`` (the feature dicts may hold more layers).

    Example (a wrong attempt, and the line that tells the student what is wrong):
        >>> check_style_cost(lambda features_S, features_G, layer_weights: 0.0)
        check_style_cost: case 'three layers, weights 0.2/0.3/0.5' failed — input: ..., got: 0.0 —
        hint: J_style = Σ_l λ_l·layer_style_cost(a_S[l], a_G[l])
        CheckResult(passed=False)
    """
    shapes = {"conv1_1": (4, 4, 3), "conv2_1": (3, 2, 5), "conv3_1": (2, 2, 6)}
    f_s = {k: randn(*s, seed=90 + i) for i, (k, s) in enumerate(shapes.items())}
    f_g = {k: randn(*s, seed=95 + i) for i, (k, s) in enumerate(shapes.items())}

    def case(name, fs, fg, weights, hint):
        costs = {k: _layer_cost(fs[k], fg[k]) for k in weights}
        total = sum(w * costs[k] for k, w in weights.items())
        keys = list(weights)
        layer_hint = ("your layer_style_cost looks wrong — run check_layer_style_cost on it first")
        mistakes = [
            Mistake(sum(costs.values()), "weight each layer: Σ_l λ_l·J_style(l), with λ_l from "
                    "layer_weights"),
            Mistake(total / len(weights), "sum the weighted layer costs (do not average them)"),
            Mistake(weights[keys[-1]] * costs[keys[-1]], "accumulate over ALL layers: J += λ·J_layer "
                    "(you kept only the last one)"),
            Mistake(weights[keys[0]] * costs[keys[0]], "accumulate over ALL layers: J += λ·J_layer "
                    "(you kept only the first one)"),
            Mistake(sum(w * _layer_cost(fs[k], fg[k], _no_transpose) for k, w in weights.items()),
                    layer_hint),
            Mistake(sum(w * _layer_cost(fs[k], fg[k], scale=lambda n: 2 * n)
                        for k, w in weights.items()), layer_hint),
        ]
        return Case(name, (fs, fg, weights), total, hint, mistakes=mistakes, rtol=1e-3)

    three = {"conv1_1": 0.2, "conv2_1": 0.3, "conv3_1": 0.5}
    extra_s = {**f_s, "conv4_2": randn(2, 2, 4, seed=99)}
    extra_g = {**f_g, "conv4_2": randn(2, 2, 4, seed=98)}
    cases = [
        case("three layers, weights 0.2/0.3/0.5", f_s, f_g, three,
             "J_style = Σ_l λ_l·layer_style_cost(a_S[l], a_G[l])"),
        case("one layer, weight 1", f_s, f_g, {"conv2_1": 1.0},
             "a single layer with λ = 1 is just its layer_style_cost"),
        case("unequal weights 1.0/0.0/2.0", f_s, f_g, {"conv1_1": 1.0, "conv2_1": 0.0, "conv3_1": 2.0},
             "multiply each layer's cost by its own weight"),
        case("features hold an extra layer", extra_s, extra_g, three,
             "sum over the layers of layer_weights only (the features may contain more layers)"),
    ]
    return run_check("check_style_cost", style_cost, cases)
