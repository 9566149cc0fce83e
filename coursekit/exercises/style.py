"""Self-checks for the neural-style-transfer exercises of lessons 4.6, 4.8 and 4.9:
``vgg_preprocess``, ``total_cost`` and ``content_cost`` (the style cost's checks, lesson 4.10, are
in :mod:`coursekit.exercises.style_cost`).

Costs follow Gatys, Ecker & Bethge (2015), "A Neural Algorithm of Artistic Style", with the
normalisations of the deep-learning course's assignment. Activations are channels-last
(n_H, n_W, n_C). The references below are written independently of :mod:`coursekit.style`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from coursekit.exercises.framework import Case, CheckResult, Mistake, rand, randn, run_check

__all__ = [
    "check_content_cost",
    "check_total_cost",
    "check_vgg_preprocess",
]

_VGG_MEAN_BGR = (103.939, 116.779, 123.68)


# ---------------------------------------------------------------------------------------------
# 4.6 vgg_preprocess


def check_vgg_preprocess(vgg_preprocess: Callable) -> CheckResult:
    """Check ``vgg_preprocess(image)``: RGB (3, H, W) in [0, 1] → (1, 3, H, W) BGR in 0–255
    minus the mean [103.939, 116.779, 123.68] (B, G, R order).

    Example (a wrong attempt, and the line that tells the student what is wrong):
        >>> check_vgg_preprocess(lambda image: image * 255)
        check_vgg_preprocess: case 'solid colour R=1, G=0.5, B=0' failed — input: ..., got: ... —
        hint: expected shape (1, 3, 2, 2), got (3, 2, 2); the output's channel 0 is blue: ...
        CheckResult(passed=False)
    """
    mean = torch.tensor(_VGG_MEAN_BGR).view(3, 1, 1)

    def case(name, image, hint):
        bgr = image.flip(0)
        out = (bgr * 255 - mean).unsqueeze(0)
        mistakes = [
            Mistake((image * 255 - mean).unsqueeze(0), "reorder the channels from R, G, B to "
                    "B, G, R (image.flip(0) or image[[2, 1, 0]]) before subtracting the mean"),
            Mistake((image * 255 - mean.flip(0)).unsqueeze(0), "reorder the channels from R, G, B "
                    "to B, G, R (image.flip(0) or image[[2, 1, 0]])"),
            Mistake((bgr - mean).unsqueeze(0), "scale to 0–255 first (multiply by 255), then "
                    "subtract the mean"),
            Mistake((bgr * 255 - mean.flip(0)).unsqueeze(0), "the mean [103.939, 116.779, 123.68] "
                    "is already in B, G, R order: subtract it as it is from the B, G, R image"),
            Mistake(bgr * 255 - mean, "add the batch dimension: return shape (1, 3, H, W) "
                    "(.unsqueeze(0))"),
            Mistake((bgr * 255 + mean).unsqueeze(0), "SUBTRACT the mean, don't add it"),
        ]
        return Case(name, (image,), out, hint, mistakes=mistakes, atol=1e-3)

    solid = torch.stack([torch.full((2, 2), 1.0), torch.full((2, 2), 0.5), torch.zeros(2, 2)])

    def unchanged(fn, args, kwargs):
        fn(*args, **kwargs)
        return args[0]

    image = rand(3, 4, 6, seed=51)
    cases = [
        case("solid colour R=1, G=0.5, B=0", solid,
             "the output's channel 0 is blue: 0·255 − 103.939 = −103.939"),
        case("random 4×6 (non-square) image", image, "keep (H, W) as they are: (1, 3, H, W)"),
        case("black image gives minus the mean", torch.zeros(3, 3, 3),
             "a black image becomes −[103.939, 116.779, 123.68] per B, G, R channel"),
        Case("input image left unchanged", (image,), image, "work on a copy: don't change `image` "
             "in place (write image.flip(0) * 255 − mean, not image *= 255)", call=unchanged,
             inputs=f"image {tuple(image.shape)}"),
        case("1×1 white pixel", torch.ones(3, 1, 1), "white is 255 in every channel before "
             "subtracting the mean"),
    ]
    return run_check("check_vgg_preprocess", vgg_preprocess, cases)


# ---------------------------------------------------------------------------------------------
# 4.8 total_cost


def check_total_cost(total_cost: Callable) -> CheckResult:
    """Check ``total_cost(J_content, J_style, alpha=10, beta=40)`` = α·J_content + β·J_style,
    for numbers and for tensors (gradients must flow through).

    Example (a wrong attempt, and the line that tells the student what is wrong):
        >>> check_total_cost(lambda J_content, J_style, alpha=10, beta=40: J_content + J_style)
        check_total_cost: case 'defaults alpha=10, beta=40' failed — input: 1.0, 2.0,
        expected: 90.0, got: 3.0 — hint: J = 10·1 + 40·2 = 90
        CheckResult(passed=False)
    """
    swap = "alpha multiplies J_content and beta multiplies J_style (you swapped them)"
    own = "use the alpha and beta arguments, not the hard-coded defaults 10 and 40"

    def case(name, jc, js, hint, alpha=10, beta=40, how="default"):
        args = (jc, js, alpha, beta) if how == "positional" else (jc, js)
        kwargs = {"alpha": alpha, "beta": beta} if how == "keyword" else {}
        mistakes = [Mistake(beta * jc + alpha * js, swap), Mistake(10 * jc + 40 * js, own),
                    Mistake(alpha * jc - beta * js, "add the two weighted costs"),
                    Mistake(alpha * jc + js, "weight J_style by beta")]
        return Case(name, args, alpha * jc + beta * js, hint, kwargs=kwargs, mistakes=mistakes)

    def with_gradients(fn, args, kwargs):
        jc = torch.tensor(0.5, requires_grad=True)
        js = torch.tensor(0.25, requires_grad=True)
        out = fn(jc, js)
        if not isinstance(out, torch.Tensor) or not out.requires_grad:
            return "a value that gradients cannot flow through"
        out.backward()
        grad = lambda t: None if t.grad is None else float(t.grad)  # noqa: E731
        return float(out.detach()), grad(jc), grad(js)

    cases = [
        case("defaults alpha=10, beta=40", 1.0, 2.0, "J = 10·1 + 40·2 = 90"),
        case("keywords alpha=1, beta=1000", 3.0, 0.002, "use the alpha and beta arguments",
             alpha=1, beta=1000, how="keyword"),
        case("positional alpha=1, beta=2", 2.0, 3.0, "alpha and beta are the 3rd and 4th "
             "arguments", alpha=1, beta=2, how="positional"),
        case("zero style cost", 0.7, 0.0, "J = alpha·J_content when J_style is 0"),
        Case("tensors keep their gradients", (), (15.0, 10.0, 40.0),
             "keep it a tensor expression (alpha * J_content + beta * J_style) so gradients reach "
             "the image; don't convert with float() or .item()", call=with_gradients,
             inputs="J_content=tensor(0.5, requires_grad), J_style=tensor(0.25, requires_grad); "
             "showing (J, dJ/dJ_content, dJ/dJ_style)",
             mistakes=[Mistake((22.5, 40.0, 10.0), swap)]),
    ]
    return run_check("check_total_cost", total_cost, cases)


# ---------------------------------------------------------------------------------------------
# 4.9 content_cost


def check_content_cost(content_cost: Callable) -> CheckResult:
    """Check ``content_cost(a_C, a_G)``: activations (n_H, n_W, n_C) →
    1/(4·n_H·n_W·n_C)·Σ(a_C − a_G)².

    Example (a wrong attempt, and the line that tells the student what is wrong):
        >>> check_content_cost(lambda a_C, a_G: (a_C - a_G).abs().sum())
        check_content_cost: case 'random (2, 3, 4)' failed — input: ..., expected: 0.5198,
        got: 28.46 — hint: J = Σ(a_C − a_G)² / (4·n_H·n_W·n_C)
        CheckResult(passed=False)
    """
    def case(name, a_c, a_g, hint):
        n = a_c.numel()
        total = float(((a_c - a_g) ** 2).sum())
        mistakes = [
            Mistake(total / 2, "the normalisation is 1/(4·n_H·n_W·n_C), not ½"),
            Mistake(total, "normalise: multiply the sum by 1/(4·n_H·n_W·n_C)"),
            Mistake(total / n, "divide by 4·n_H·n_W·n_C, not n_H·n_W·n_C (the mean)"),
            Mistake(total ** 0.5 / (4 * n), "square the differences and sum them; no square root"),
            Mistake(float((a_c - a_g).abs().sum()) / (4 * n), "square the differences: (a_C − a_G)²"),
            Mistake(total / (4 * n) ** 2, "the constant 1/(4·n_H·n_W·n_C) is not squared here "
                    "(that is the style cost)"),
            Mistake(total / (2 * n) ** 2, "that is the style cost's constant: the content cost "
                    "uses 1/(4·n_H·n_W·n_C)"),
        ]
        return Case(name, (a_c, a_g), total / (4 * n), hint, mistakes=mistakes)

    a = randn(2, 3, 4, seed=61)
    cases = [
        case("random (2, 3, 4)", a, randn(2, 3, 4, seed=62),
             "J = Σ(a_C − a_G)² / (4·n_H·n_W·n_C)"),
        case("identical activations → 0", a, a.clone(), "the cost of an image against itself is 0"),
        case("ones vs zeros (3, 2, 5)", torch.ones(3, 2, 5), torch.zeros(3, 2, 5),
             "30 squared differences of 1, divided by 4·30 → 0.25"),
        case("random (4, 4, 8)", randn(4, 4, 8, seed=63), randn(4, 4, 8, seed=64),
             "read n_H, n_W, n_C from the shape of a_C"),
        case("one pixel, 16 channels", randn(1, 1, 16, seed=65), randn(1, 1, 16, seed=66),
             "n_H = n_W = 1 still divides by 4·n_C"),
    ]
    return run_check("check_content_cost", content_cost, cases)
