"""The style-transfer self-checks pass the reference solutions and catch each classic mistake
with its own hint. The wrong implementations below are kept on purpose."""

from __future__ import annotations

import torch
from check_helpers import check_tests

from coursekit.exercises import (
    check_content_cost,
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




# ----------------------------------------------------------------------------- total_cost


def total_cost(J_content, J_style, alpha=10, beta=40):
    return alpha * J_content + beta * J_style


WRONG_TOTAL = {
    "swapped alpha/beta": (lambda jc, js, alpha=10, beta=40: beta * jc + alpha * js, "swapped"),
    "hard-coded": (lambda jc, js, alpha=10, beta=40: 10 * jc + 40 * js, "hard-coded defaults"),
    "no gradient": (lambda jc, js, alpha=10, beta=40: float(alpha * jc + beta * js), "gradients"),
}




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


test_passes_reference, test_catches_mistake = check_tests(
    (check_vgg_preprocess, vgg_preprocess, 5, WRONG_VGG),
    (check_total_cost, total_cost, 5, WRONG_TOTAL),
    (check_content_cost, content_cost, 5, WRONG_CONTENT),
)
