"""The style-transfer self-checks pass the reference solutions and catch each classic mistake
with its own hint. The wrong implementations below are kept on purpose."""

from __future__ import annotations

import pytest
import torch
from check_helpers import assert_catches, run, stub

from coursekit.exercises import (
    check_content_cost,
    check_gram_matrix,
    check_layer_style_cost,
    check_style_cost,
    check_total_cost,
    check_vgg_preprocess,
)

MEAN = torch.tensor([103.939, 116.779, 123.68]).view(3, 1, 1)





# ----------------------------------------------------------------------------- vgg_preprocess


def vgg_preprocess(image):
    return (image[[2, 1, 0]] * 255 - MEAN).unsqueeze(0)


def vgg_in_place(image):
    image *= 255
    return (image.flip(0) - MEAN).unsqueeze(0)


WRONG_VGG = {
    "RGB instead of BGR": (lambda im: (im * 255 - MEAN).unsqueeze(0), "B, G, R"),
    "no 255": (lambda im: (im.flip(0) - MEAN).unsqueeze(0), "multiply by 255"),
    "mean reversed": (lambda im: (im.flip(0) * 255 - MEAN.flip(0)).unsqueeze(0), "already in B, G, R"),
    "no batch dim": (lambda im: im.flip(0) * 255 - MEAN, "add the batch dimension"),
    "mean added": (lambda im: (im.flip(0) * 255 + MEAN).unsqueeze(0), "SUBTRACT the mean"),
    "transposed": (lambda im: (im.flip(0) * 255 - MEAN).transpose(1, 2).unsqueeze(0), "(1, 3, H, W)"),
    "in place": (vgg_in_place, "work on a copy"),
}


def test_vgg_preprocess_passes_reference(capsys):
    assert run(check_vgg_preprocess, vgg_preprocess, capsys) == (
        True, "check_vgg_preprocess: all 5 cases passed")


@pytest.mark.parametrize("mistake", sorted(WRONG_VGG))
def test_vgg_preprocess_catches_mistake(mistake, capsys):
    assert_catches(check_vgg_preprocess, *WRONG_VGG[mistake], capsys)


# ----------------------------------------------------------------------------- total_cost


def total_cost(J_content, J_style, alpha=10, beta=40):
    return alpha * J_content + beta * J_style


WRONG_TOTAL = {
    "swapped alpha/beta": (lambda jc, js, alpha=10, beta=40: beta * jc + alpha * js, "swapped"),
    "hard-coded": (lambda jc, js, alpha=10, beta=40: 10 * jc + 40 * js, "hard-coded defaults"),
    "no gradient": (lambda jc, js, alpha=10, beta=40: float(alpha * jc + beta * js), "gradients"),
}


def test_total_cost_passes_reference(capsys):
    assert run(check_total_cost, total_cost, capsys) == (True, "check_total_cost: all 5 cases passed")


@pytest.mark.parametrize("mistake", sorted(WRONG_TOTAL))
def test_total_cost_catches_mistake(mistake, capsys):
    assert_catches(check_total_cost, *WRONG_TOTAL[mistake], capsys)


# ----------------------------------------------------------------------------- content_cost


def content_cost(a_C, a_G):
    n_H, n_W, n_C = a_C.shape
    return torch.sum((a_C - a_G) ** 2) / (4 * n_H * n_W * n_C)


WRONG_CONTENT = {
    "one half": (lambda c, g: 0.5 * ((c - g) ** 2).sum(), "not ½"),
    "no normalisation": (lambda c, g: ((c - g) ** 2).sum(), "multiply the sum by 1/(4"),
    "mean": (lambda c, g: ((c - g) ** 2).mean(), "(the mean)"),
    "L2 norm": (lambda c, g: (c - g).norm() / (4 * c.numel()), "no square root"),
    "style constant": (lambda c, g: ((c - g) ** 2).sum() / (2 * c.numel()) ** 2, "style cost's constant"),
}


def test_content_cost_passes_reference(capsys):
    assert run(check_content_cost, content_cost, capsys) == (
        True, "check_content_cost: all 5 cases passed")


@pytest.mark.parametrize("mistake", sorted(WRONG_CONTENT))
def test_content_cost_catches_mistake(mistake, capsys):
    assert_catches(check_content_cost, *WRONG_CONTENT[mistake], capsys)


# ----------------------------------------------------------------------------- gram_matrix


WRONG_GRAM = {
    "AtA": (lambda A: A.T @ A, "you computed Aᵀ·A"),
    "elementwise": (lambda A: A * A, "not the element-wise"),
    "normalised": (lambda A: A @ A.T / A.numel(), "no normalisation"),
}


def test_gram_matrix_passes_reference(capsys):
    assert run(check_gram_matrix, lambda A: torch.matmul(A, A.transpose(0, 1)), capsys) == (
        True, "check_gram_matrix: all 5 cases passed")


@pytest.mark.parametrize("mistake", sorted(WRONG_GRAM))
def test_gram_matrix_catches_mistake(mistake, capsys):
    assert_catches(check_gram_matrix, *WRONG_GRAM[mistake], capsys)


# ----------------------------------------------------------------------------- layer_style_cost


def _unroll(a):
    n_H, n_W, n_C = a.shape
    return a.permute(2, 0, 1).reshape(n_C, n_H * n_W)


def _style(a_S, a_G, unroll=_unroll, scale=lambda n_H, n_W, n_C: (2 * n_H * n_W * n_C) ** 2):
    S, G = unroll(a_S), unroll(a_G)
    return ((S @ S.T - G @ G.T) ** 2).sum() / scale(*a_S.shape)


def layer_style_cost(a_S, a_G):
    return _style(a_S, a_G)


def _no_transpose(a):
    return a.reshape(a.shape[2], -1)


WRONG_LAYER_STYLE = {
    "no transpose": (lambda s, g: _style(s, g, unroll=_no_transpose), "transpose before the Gram"),
    "constant not squared": (lambda s, g: _style(s, g, scale=lambda h, w, c: 2 * h * w * c),
                             "square the whole constant"),
    "content constant": (lambda s, g: _style(s, g, scale=lambda h, w, c: 4 * h * w * c),
                         "content cost's"),
    "no normalisation": (lambda s, g: _style(s, g, scale=lambda h, w, c: 1), "normalise by"),
    "n_H n_W not squared": (lambda s, g: _style(s, g, scale=lambda h, w, c: 4 * c * c * h * w),
                            "(n_H·n_W) is squared too"),
    "Frobenius norm": (lambda s, g: _style(s, g) ** 0.5, "no square root"),
}


def test_layer_style_cost_passes_reference(capsys):
    assert run(check_layer_style_cost, layer_style_cost, capsys) == (
        True, "check_layer_style_cost: all 5 cases passed")


@pytest.mark.parametrize("mistake", sorted(WRONG_LAYER_STYLE))
def test_layer_style_cost_catches_mistake(mistake, capsys):
    assert_catches(check_layer_style_cost, *WRONG_LAYER_STYLE[mistake], capsys)


# ----------------------------------------------------------------------------- style_cost


def style_cost(features_S, features_G, layer_weights):
    J = 0.0
    for layer, weight in layer_weights.items():
        J = J + weight * layer_style_cost(features_S[layer], features_G[layer])
    return J


def style_cost_last_only(features_S, features_G, layer_weights):
    for layer, weight in layer_weights.items():
        J = weight * layer_style_cost(features_S[layer], features_G[layer])
    return J


def style_cost_over_features(features_S, features_G, layer_weights):
    return sum(layer_weights[k] * layer_style_cost(features_S[k], features_G[k]) for k in features_S)


WRONG_STYLE = {
    "unweighted": (lambda s, g, w: sum(layer_style_cost(s[k], g[k]) for k in w), "weight each layer"),
    "mean over layers": (lambda s, g, w: style_cost(s, g, w) / len(w), "do not average"),
    "last layer only": (style_cost_last_only, "kept only the last one"),
    "wrong layer cost": (lambda s, g, w: sum(v * WRONG_LAYER_STYLE["no transpose"][0](s[k], g[k])
                                             for k, v in w.items()), "run check_layer_style_cost"),
    "loops over the features": (style_cost_over_features, "KeyError"),
}


def test_style_cost_passes_reference(capsys):
    assert run(check_style_cost, style_cost, capsys) == (True, "check_style_cost: all 4 cases passed")


@pytest.mark.parametrize("mistake", sorted(WRONG_STYLE))
def test_style_cost_catches_mistake(mistake, capsys):
    assert_catches(check_style_cost, *WRONG_STYLE[mistake], capsys)


def test_style_cost_with_unfilled_layer_cost_is_not_implemented(capsys):
    def style_cost_calling_stub(features_S, features_G, layer_weights):
        return sum(w * stub(features_S[k], features_G[k]) for k, w in layer_weights.items())

    ok, line = run(check_style_cost, style_cost_calling_stub, capsys)
    assert not ok and "not implemented yet" in line
