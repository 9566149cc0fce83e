"""The train_step self-check (lesson 4.8) passes the reference step and catches each classic
mistake with its own hint. The wrong implementations below are kept on purpose."""

from __future__ import annotations

import torch
from check_helpers import check_tests

import coursekit.style as nst
from coursekit.exercises import check_train_step


def _J(features, G, a_C, a_S, layer_weights, alpha, beta, *, detach=True, normalization="relative"):
    a_G, feats_G = features(G)
    if detach:
        a_C, a_S = a_C.detach(), {k: v.detach() for k, v in a_S.items()}
    J_content = nst.content_cost(a_C, a_G, normalization=normalization)
    J_style = nst.style_cost(a_S, feats_G, layer_weights, normalization=normalization)
    return alpha * J_content + beta * J_style


def train_step(G, optimizer, features, a_C, a_S, layer_weights, alpha=10, beta=40):
    optimizer.zero_grad()
    J = _J(features, G, a_C, a_S, layer_weights, alpha, beta)
    J.backward()
    optimizer.step()
    with torch.no_grad():
        G.clamp_(0, 1)
    return J.item()


def _step(*, zero_grad=True, clamp="in place", detach=True, normalization="relative", swap=False,
          net_optimizer=False, order="backward, step", hard_coded=False, returns=True, on_copy=False):
    """A train_step with one classic mistake."""

    def step(G, optimizer, features, a_C, a_S, layer_weights, alpha=10, beta=40):
        if hard_coded:
            alpha, beta = 10, 40
        if swap:
            alpha, beta = beta, alpha
        if net_optimizer:  # optimising the network's weights instead of G
            optimizer = torch.optim.SGD(features.parameters(), lr=0.1)
        if zero_grad == "network":
            features.zero_grad()
        elif zero_grad:
            optimizer.zero_grad()
        J = _J(features, G.detach() if on_copy else G, a_C, a_S, layer_weights, alpha, beta,
               detach=detach, normalization=normalization)
        if order == "step, backward":
            optimizer.step()
            J.backward()
        elif J.requires_grad:
            J.backward()
            optimizer.step()
        if clamp == "in place":
            with torch.no_grad():
                G.clamp_(0, 1)
        elif clamp == "renamed":
            G = G.clamp(0, 1)  # noqa: F841 - the classic slip: only the local name changes
        return J.item() if returns else None

    return step


WRONG = {
    "no zero_grad": (_step(zero_grad=False), "call optimizer.zero_grad() at the start"),
    "network's zero_grad": (_step(zero_grad="network"), "call optimizer.zero_grad() at the start"),
    "no clamp": (_step(clamp=None), "clamp G to the valid range"),
    "clamp on a new name": (_step(clamp="renamed"), "G.clamp_(0, 1)"),
    "targets not detached": (_step(detach=False), "detach them"),
    "optimises the network": (_step(net_optimizer=True), "the network stays frozen"),
    "step before backward": (_step(order="step, backward"), "then optimizer.step()"),
    "forward on a detached G": (_step(on_copy=True), "not G.detach()"),
    "swapped alpha, beta": (_step(swap=True), "you swapped them"),
    "hard-coded 10, 40": (_step(hard_coded=True), "use the alpha and beta arguments"),
    "raw costs": (_step(normalization="lecture"), "relative costs"),
    "returns nothing": (_step(returns=False), "return the cost J"),
}

test_passes_reference, test_catches_mistake = check_tests((check_train_step, train_step, 5, WRONG))
