"""The receptive-field, output-shape and 1-D convolution self-checks pass the reference
solutions and catch each classic mistake with its own hint (wrong versions kept on purpose)."""

from __future__ import annotations

import math

import torch
from check_helpers import check_tests, run

from coursekit.exercises import check_conv1d, check_conv_output_shape, check_receptive_field

# ----------------------------------------------------------------------------- receptive_field


def receptive_field(layers):
    r, j = 1, 1
    for k, s in layers:
        r += (k - 1) * j
        j *= s
    return r, j


def rf_jump_first(layers):
    r, j = 1, 1
    for k, s in layers:
        j *= s
        r += (k - 1) * j
    return r, j


def rf_no_jump(layers):
    r, j = 1, 1
    for k, s in layers:
        r += k - 1
        j *= s
    return r, j


def rf_k_not_k_minus_1(layers):
    r, j = 1, 1
    for k, s in layers:
        r += k * j
        j *= s
    return r, j


WRONG_RF = {
    "jump updated first": (rf_jump_first, "update r first"),
    "jump ignored": (rf_no_jump, "multiply (k − 1) by the current jump"),
    "k instead of k-1": (rf_k_not_k_minus_1, "not k·j"),
    "swapped result": (lambda layers: receptive_field(layers)[::-1], "(size, jump) in that order"),
}




# ----------------------------------------------------------------------------- conv_output_shape


def conv_output_shape(n, f, stride=1, padding=0):
    return (n + 2 * padding - f) // stride + 1


WRONG_SHAPE = {
    "true division": (lambda n, f, stride=1, padding=0: (n + 2 * padding - f) / stride + 1,
                      "floor division"),
    "off by one": (lambda n, f, stride=1, padding=0: (n + 2 * padding - f) // stride, "off by one"),
    "padding once": (lambda n, f, stride=1, padding=0: (n + padding - f) // stride + 1, "both sides"),
    "ceil": (lambda n, f, stride=1, padding=0: math.ceil((n + 2 * padding - f) / stride) + 1,
             "round DOWN"),
    "stride ignored": (lambda n, f, stride=1, padding=0: n + 2 * padding - f + 1, "divide by the stride"),
    "+1 inside": (lambda n, f, stride=1, padding=0: (n + 2 * padding - f + 1) // stride,
                  "after the division"),
}




# ----------------------------------------------------------------------------- conv1d_naive


def conv1d_naive(x, w):
    f = w.shape[0]
    out = torch.zeros(x.shape[0] - f + 1, dtype=x.dtype)
    for i in range(out.shape[0]):
        for k in range(f):
            out[i] += x[i + k] * w[k]
    return out


def conv1d_flipped(x, w):
    return conv1d_naive(x, w.flip(0))


def conv1d_short(x, w):
    f = w.shape[0]
    return torch.stack([(x[i:i + f] * w).sum() for i in range(x.shape[0] - f)]) if x.shape[0] > f \
        else torch.zeros(0)


def conv1d_same(x, w):
    return conv1d_naive(torch.cat([x, torch.zeros(w.shape[0] - 1)]), w)


def conv1d_mean(x, w):
    f = w.shape[0]
    return torch.stack([(x[i:i + f] * w).mean() for i in range(x.shape[0] - f + 1)])


WRONG_CONV1D = {
    "flipped kernel": (conv1d_flipped, "don't flip the kernel"),
    "one output short": (conv1d_short, "off by one"),
    "padded to length L": (conv1d_same, "no padding"),
    "mean instead of sum": (conv1d_mean, "do not average"),
}



def test_receptive_field_accepts_a_list(capsys):
    assert run(check_receptive_field, lambda layers: list(receptive_field(layers)), capsys)[0]


def test_conv1d_accepts_torch_conv(capsys):
    def torch_conv(x, w):
        return torch.nn.functional.conv1d(x[None, None], w[None, None])[0, 0]

    assert run(check_conv1d, torch_conv, capsys)[0]

test_passes_reference, test_catches_mistake = check_tests(
    (check_receptive_field, receptive_field, 7, WRONG_RF),
    (check_conv_output_shape, conv_output_shape, 8, WRONG_SHAPE),
    (check_conv1d, conv1d_naive, 6, WRONG_CONV1D),
)
