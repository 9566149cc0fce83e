"""The style-cost self-checks (lesson 4.10) pass the reference solutions and catch each classic
mistake with its own hint. The wrong implementations below are kept on purpose."""

from __future__ import annotations

import torch
from check_helpers import check_tests, run, stub

from coursekit.exercises import check_gram_matrix, check_layer_style_cost, check_style_cost

# ----------------------------------------------------------------------------- gram_matrix


def gram_matrix(A):
    return torch.matmul(A, A.transpose(0, 1))


WRONG_GRAM = {
    "AtA": (lambda A: A.T @ A, "you computed Aᵀ·A"),
    "elementwise": (lambda A: A * A, "not the element-wise"),
    "normalised": (lambda A: A @ A.T / A.numel(), "no normalisation"),
}




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




def test_style_cost_with_unfilled_layer_cost_is_not_implemented(capsys):
    def style_cost_calling_stub(features_S, features_G, layer_weights):
        return sum(w * stub(features_S[k], features_G[k]) for k, w in layer_weights.items())

    ok, line = run(check_style_cost, style_cost_calling_stub, capsys)
    assert not ok and "not implemented yet" in line


test_passes_reference, test_catches_mistake = check_tests(
    (check_gram_matrix, gram_matrix, 5, WRONG_GRAM),
    (check_layer_style_cost, layer_style_cost, 5, WRONG_LAYER_STYLE),
    (check_style_cost, style_cost, 4, WRONG_STYLE),
)
