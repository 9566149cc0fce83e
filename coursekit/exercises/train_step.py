"""Self-check for the optimisation step of neural style transfer, lesson 4.8 (the programming
assignment's ``train_step``): one forward pass of G through the frozen network,
J = α J_content + β J_style on the relative costs, backward, optimiser step, clamp to [0, 1].

The check runs the student's step twice on a tiny two-layer network (so it is fast and needs no
VGG19 weights) with plain gradient descent, and compares G, the returned costs and the network's
weights with a reference written independently of :mod:`coursekit.style`. Each classic mistake
(optimising the network instead of G, forgetting ``zero_grad``, targets that are not detached, no
clamp, swapped or hard-coded weights, the raw instead of the relative costs) has its own hint.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from coursekit.exercises.framework import Case, CheckResult, Mistake, gen, rand, run_check

__all__ = ["check_train_step"]

_NET_CHANGED = "the network's weights changed"
_G_UNCHANGED = "G did not change"
_OUT_OF_RANGE = "G has pixels outside [0, 1]"
_RETURNED_NONE = "train_step returned None"

_HINTS = {
    _NET_CHANGED: "only G's pixels are optimised: the network stays frozen (don't build an "
    "optimizer over its parameters or change them); step the optimizer you were given, which "
    "holds [G]",
    _G_UNCHANGED: "the order is optimizer.zero_grad(), forward pass on G itself (not G.detach() "
    "or G.data), J.backward(), then optimizer.step()",
    _OUT_OF_RANGE: "clamp G to the valid range after the step, in place and without gradients: "
    "with torch.no_grad(): G.clamp_(0, 1)  (G = G.clamp(0, 1) only renames a local copy)",
    _RETURNED_NONE: "return the cost J of this step as a number (J.item())",
    "zero_grad": "call optimizer.zero_grad() at the start of every step (not the network's "
    "zero_grad: the gradient to clear is G's); otherwise backward() adds this step's gradient to "
    "the previous one's",
    "swap": "alpha multiplies J_content and beta multiplies J_style (you swapped them)",
    "hard-coded": "use the alpha and beta arguments, not the numbers 10 and 40",
    "raw": "use the relative costs (normalization=\"relative\"): the lecture's α = 10, β = 40 "
    "are set for them; the raw costs live on very different scales",
    "detach": "a_C and a_S are fixed targets: detach them (a_C.detach(), {l: a.detach() for l, "
    "a in a_S.items()}) so that backward() stops at G and does not run into the graph that "
    "computed them",
}


class _TinyNet(nn.Module):
    """Two conv layers standing in for VGG19: ``net(G) -> (a_content, {layer: a_style})``.

    The weights come from a local generator (a check never moves the global RNG)."""

    def __init__(self, seed: int, *, trainable: bool = False):
        super().__init__()
        g = gen(seed)
        self.w1 = nn.Parameter(torch.randn(4, 3, 3, 3, generator=g) * 0.5, requires_grad=trainable)
        self.b1 = nn.Parameter(torch.rand(4, generator=g) * 0.2, requires_grad=trainable)
        self.w2 = nn.Parameter(torch.randn(5, 4, 3, 3, generator=g) * 0.5, requires_grad=trainable)
        self.b2 = nn.Parameter(torch.rand(5, generator=g) * 0.2, requires_grad=trainable)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        a1 = F.relu(F.conv2d(x, self.w1, self.b1, padding=1))  # (B, 4, H, W)
        a2 = F.relu(F.conv2d(F.avg_pool2d(a1, 2), self.w2, self.b2, padding=1))  # (B, 5, H/2, W/2)
        return a2, {"layer1": a1, "layer2": a2}


def _gram(a: torch.Tensor) -> torch.Tensor:
    f = a.flatten(-2)  # (B, C, H*W)
    return f @ f.transpose(-1, -2) / f.shape[-1]  # per position


def _costs(a_C, a_G, a_S, feats_G, weights, relative: bool):
    if relative:
        jc = ((a_C - a_G) ** 2).sum() / (a_C ** 2).sum()
        js = sum(w * ((_gram(a_S[k]) - _gram(feats_G[k])) ** 2).sum() / (_gram(a_S[k]) ** 2).sum()
                 for k, w in weights.items())
    else:  # the lecture's raw costs
        jc = 0.5 * ((a_C - a_G) ** 2).sum()
        js = sum(w * ((_gram(a_S[k]) - _gram(feats_G[k])) ** 2).sum() / (4 * a_S[k].shape[1] ** 2)
                 for k, w in weights.items())
    return jc, js


def _reference(G, optimizer, features, a_C, a_S, layer_weights, alpha=10, beta=40, *,
               zero_grad=True, clamp=True, relative=True, swap=False):
    """The right step, or one classic mistake (for the expected values of the mistakes)."""
    if zero_grad:
        optimizer.zero_grad()
    a_G, feats_G = features(G)
    jc, js = _costs(a_C.detach(), a_G, {k: v.detach() for k, v in a_S.items()}, feats_G,
                    layer_weights, relative)
    J = beta * jc + alpha * js if swap else alpha * jc + beta * js
    J.backward()
    optimizer.step()
    if clamp:
        with torch.no_grad():
            G.clamp_(0.0, 1.0)
    return J.item()


def _setup(seed: int, size: int, *, edge: bool, attached: bool, trainable: bool):
    """G (a leaf), its optimizer, the network and the targets of one case."""
    net = _TinyNet(seed, trainable=trainable)
    C, S = rand(1, 3, size, size, seed=seed + 1), rand(1, 3, size, size, seed=seed + 2)
    G0 = rand(1, 3, size, size, seed=seed + 3)
    if edge:  # most pixels near 0 or 1: a step pushes them out of range
        G0 = (G0 > 0.5).float() * 0.96 + 0.02
    if attached:  # targets computed with gradients, as a forward pass outside no_grad gives them
        C.requires_grad_(True)
        S.requires_grad_(True)
        a_C, feats_S = net(C)[0], net(S)[1]
    else:
        with torch.no_grad():
            a_C, feats_S = net(C)[0], net(S)[1]
    weights = {"layer1": 0.5, "layer2": 0.5}
    return G0, net, a_C, feats_S, weights


def _lr(G0, net, a_C, a_S, weights, alpha, beta) -> float:
    """A learning rate whose first step moves the fastest pixel by 0.1 (scale-free cases)."""
    G = G0.clone().requires_grad_(True)
    a_G, feats_G = net(G)
    jc, js = _costs(a_C.detach(), a_G, {k: v.detach() for k, v in a_S.items()}, feats_G, weights, True)
    (grad,) = torch.autograd.grad(alpha * jc + beta * js, G)
    return 0.1 / grad.abs().max().item()


def _run(step, setup, lr, steps, alpha, beta, pass_weights, **mistake):
    """Run ``step`` (the student's, or the reference with a mistake) ``steps`` times; return what
    the check compares: ``(G after the steps, (J per step))`` or one of the sentinel strings."""
    G0, net, a_C, a_S, weights = setup()
    G = G0.clone().requires_grad_(True)
    optimizer = torch.optim.SGD([G], lr=lr)
    before = [p.detach().clone() for p in net.parameters()]
    kwargs = {"alpha": alpha, "beta": beta} if pass_weights else {}
    costs = [step(G, optimizer, net, a_C, a_S, weights, **kwargs, **mistake) for _ in range(steps)]
    if any(not torch.equal(p, q) for p, q in zip(before, net.parameters())):
        return _NET_CHANGED
    if torch.equal(G.detach(), G0):
        return _G_UNCHANGED
    if any(c is None for c in costs):
        return _RETURNED_NONE
    if G.detach().min() < 0 or G.detach().max() > 1:
        return _OUT_OF_RANGE
    return G.detach().clone(), tuple(float(c) for c in costs)


def check_train_step(train_step: Callable) -> CheckResult:
    """Check ``train_step(G, optimizer, features, a_C, a_S, layer_weights, alpha=10, beta=40)``:
    one optimisation step of style transfer on the pixels of G; returns J as a number.

    ``features(G)`` returns ``(a_G, {layer: activation})`` through the frozen network; ``a_C`` and
    ``a_S`` are the targets (fixed); J = α J_content + β J_style on the relative costs
    (``normalization="relative"``), then ``J.backward()``, ``optimizer.step()`` and G clamped to
    [0, 1] in place. The cases run a few steps on a tiny network with plain gradient descent;
    the first one lets the network's weights be trained, so a step that changes them is caught.

    Example (a wrong attempt: the gradient of the first step is never cleared):
        >>> import coursekit.style as nst
        >>> def train_step(G, optimizer, features, a_C, a_S, layer_weights, alpha=10, beta=40):
        ...     a_G, feats_G = features(G)
        ...     J = (alpha * nst.content_cost(a_C.detach(), a_G, normalization="relative")
        ...          + beta * nst.style_cost({k: v.detach() for k, v in a_S.items()}, feats_G,
        ...                                  layer_weights, normalization="relative"))
        ...     J.backward()
        ...     optimizer.step()
        ...     with torch.no_grad():
        ...         G.clamp_(0, 1)
        ...     return J.item()
        >>> check_train_step(train_step)
        check_train_step: case 'two steps from a random G' failed — ...
        hint: call optimizer.zero_grad() at the start of every step ...
        CheckResult(passed=False)
    """

    def case(name, hint, *, seed, size=6, edge=False, attached=False, trainable=False,
             alpha=10.0, beta=40.0, pass_weights=False, steps=2):
        setup = lambda: _setup(seed, size, edge=edge, attached=attached, trainable=trainable)  # noqa: E731
        G0, net, a_C, a_S, weights = setup()
        lr = _lr(G0, net, a_C, a_S, weights, alpha, beta)

        def reference(**mistake):
            return _run(_reference, setup, lr, steps, alpha, beta, True, **mistake)

        mistakes = [Mistake(value, _HINTS[value])
                    for value in (_NET_CHANGED, _G_UNCHANGED, _OUT_OF_RANGE, _RETURNED_NONE)]
        mistakes += [Mistake(reference(zero_grad=False), _HINTS["zero_grad"]),
                     Mistake(reference(swap=True), _HINTS["swap"]),
                     Mistake(reference(relative=False), _HINTS["raw"])]
        if (alpha, beta) != (10.0, 40.0):
            defaults = _run(_reference, setup, lr, steps, 10.0, 40.0, True)
            mistakes.append(Mistake(defaults, _HINTS["hard-coded"]))

        def call(fn, args, kwargs):
            return _run(fn, setup, lr, steps, alpha, beta, pass_weights)

        inputs = (f"G (1, 3, {size}, {size}){' near 0 and 1' if edge else ''}, SGD over [G], a tiny "
                  f"{'trainable ' if trainable else ''}two-layer network, targets"
                  f"{' computed with gradients' if attached else ''}, alpha={alpha:g}, beta={beta:g}, "
                  f"{steps} steps; showing (G, (J per step))")
        return Case(name, (), reference(), hint, mistakes=mistakes, call=call, inputs=inputs,
                    rtol=1e-3, atol=1e-5)

    cases = [
        case("two steps from a random G", "J = alpha * J_content + beta * J_style (relative "
             "costs), then backward, step and clamp", seed=80, trainable=True),
        case("G near the edges of [0, 1]", _HINTS[_OUT_OF_RANGE], seed=81, edge=True),
        case("alpha=1, beta=1000 as keywords", "use the alpha and beta arguments", seed=82,
             alpha=1.0, beta=1000.0, pass_weights=True),
        case("targets computed with gradients", _HINTS["detach"], seed=83, attached=True),
        case("three steps on an 8 x 8 image", "J = alpha * J_content + beta * J_style (relative "
             "costs), then backward, step and clamp", seed=84, size=8, steps=3),
    ]
    return run_check("check_train_step", train_step, cases)
