"""The costs of neural style transfer, lessons 4.8-4.10 (Gatys, Ecker & Bethge, "A Neural
Algorithm of Artistic Style", 2015), as pure functions on activations ``(B, C, H, W)``.

* content: :math:`J_{content}(C, G) = \\tfrac12 \\lVert a^{[l](C)} - a^{[l](G)} \\rVert^2`
  (the lecture) or :math:`\\frac{1}{4 n_H n_W n_C}\\sum (a^{(C)} - a^{(G)})^2` (the assignment);
* style matrix (Gram): :math:`G_{kk'} = \\sum_i \\sum_j a_{ijk}\\, a_{ijk'}`, unnormalised;
* style cost of one layer: :math:`\\frac{1}{(2 n_H n_W n_C)^2} \\sum_k \\sum_{k'} (G^{(S)}_{kk'} -
  G^{(G)}_{kk'})^2`, and :math:`J_{style} = \\sum_l \\lambda^{[l]} J^{[l]}_{style}`;
* total variation (a smoothness prior, Mahendran & Vedaldi, 2015) and
  :math:`J(G) = \\alpha J_{content} + \\beta J_{style}`.

``normalization="relative"`` divides the content and style costs by their values for an all-zero
``a_G`` (:math:`\\lVert a^{(C)}\\rVert^2`, :math:`\\lVert G^{(S)}\\rVert_F^2`): the costs
then depend neither on the image size nor on the layer, so the lecture's α = 10, β = 40 mean the
same at every size. :func:`~coursekit.style.style_transfer` minimises these.

Every cost returns a scalar tensor, summed over the batch. ``C`` here is the number of channels
``n_C``; ``H, W`` are ``n_H, n_W``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import torch
from torch import Tensor

__all__ = [
    "GramTarget",
    "content_cost",
    "gram_matrix",
    "gram_target",
    "layer_style_cost",
    "style_cost",
    "total_cost",
    "total_variation",
]


def _check_activation(name: str, a: Tensor) -> None:
    if not isinstance(a, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(a).__name__}")
    if a.ndim not in (3, 4):
        raise ValueError(f"{name} must be (C, H, W) or (B, C, H, W), got shape {tuple(a.shape)}")


_TINY = 1e-30  # keeps a relative cost finite when its reference is all zeros


def _accumulation_dtype(a: Tensor) -> Tensor:
    """``a`` in float32 if it is bfloat16 or float16 (a network run in reduced precision, see
    ``TransferConfig.precision``): sums over thousands of positions are done in float32."""
    return a.float() if a.dtype in (torch.bfloat16, torch.float16) else a


def content_cost(a_C: Tensor, a_G: Tensor, *, normalization: str = "lecture") -> Tensor:
    """Content cost between the activations of the content image and the generated image.

    Args:
        a_C: content activations ``(B, C, H, W)`` or ``(C, H, W)``.
        a_G: generated-image activations, the same shape as ``a_C``.
        normalization: ``"lecture"``: ``0.5 * sum((a_C - a_G)**2)``; ``"assignment"``:
            ``sum((a_C - a_G)**2) / (4 * H * W * C)``; ``"relative"``:
            ``sum((a_C - a_G)**2) / sum(a_C**2)`` per image, the lecture's cost divided by its
            value for an all-zero ``a_G``: it depends neither on the image size nor on the
            scale of the layer's activations (what :func:`~coursekit.style.style_transfer`
            minimises, so that one α means the same at every size).

    Returns:
        A scalar tensor (summed over the batch).

    Example:
        >>> a_C, a_G = torch.ones(2, 3, 4), torch.zeros(2, 3, 4)
        >>> [content_cost(a_C, a_G, normalization=n).item() for n in ("lecture", "assignment", "relative")]
        [12.0, 0.25, 1.0]
    """
    _check_activation("a_C", a_C)
    _check_activation("a_G", a_G)
    if a_C.shape != a_G.shape:
        raise ValueError(f"a_G must have the shape of a_C {tuple(a_C.shape)}, got {tuple(a_G.shape)}")
    a_C, a_G = _accumulation_dtype(a_C), _accumulation_dtype(a_G)
    squares = (a_C - a_G).pow(2)
    if normalization == "lecture":
        return 0.5 * squares.sum()
    if normalization == "assignment":
        c, h, w = a_C.shape[-3:]
        return squares.sum() / (4 * c * h * w)
    if normalization == "relative":
        dims = (-3, -2, -1)
        return (squares.sum(dim=dims) / a_C.pow(2).sum(dim=dims).clamp_min(_TINY)).sum()
    raise ValueError(f"normalization must be 'lecture', 'assignment' or 'relative', got {normalization!r}")


def gram_matrix(a: Tensor) -> Tensor:
    """The style matrix :math:`G_{kk'} = \\sum_{i,j} a_{ijk} a_{ijk'}` (unnormalised).

    Args:
        a: activations ``(B, C, H, W)`` or ``(C, H, W)``, or the assignment's unrolled
            ``(C, H*W)``.

    Returns:
        ``(B, C, C)`` for a batch, else ``(C, C)``: symmetric, positive semi-definite.

    Example:
        >>> a = torch.tensor([[[1., 2.]], [[3., 4.]]])  # (C=2, H=1, W=2)
        >>> gram_matrix(a)
        tensor([[ 5., 11.],
                [11., 25.]])
    """
    if not isinstance(a, Tensor):
        raise TypeError(f"a must be a torch.Tensor, got {type(a).__name__}")
    if a.ndim not in (2, 3, 4):
        raise ValueError(f"a must be (C, H*W), (C, H, W) or (B, C, H, W), got shape {tuple(a.shape)}")
    a = _accumulation_dtype(a)
    if a.ndim == 2:
        return a @ a.T
    f = a.flatten(-2)  # (B, C, H*W) or (C, H*W)
    return f @ f.transpose(-1, -2)


class GramTarget(NamedTuple):
    """A style target computed once: the Gram matrix of ``a_S`` and its size.

    Attributes:
        gram: ``(B, C, C)`` or ``(C, C)``, from :func:`gram_matrix`.
        positions: ``n_H * n_W`` of the activations it came from.

    Example:
        >>> layer_style_cost(GramTarget(4 * torch.eye(2), positions=4), torch.ones(2, 2, 2))
        tensor(0.1250)
    """

    gram: Tensor
    positions: int


def gram_target(a_S: Tensor) -> GramTarget:
    """Precompute the style target of one layer (do it once, outside the optimisation loop).

    Example:
        >>> t = gram_target(torch.ones(1, 2, 3, 4))
        >>> t.gram.shape, t.positions
        (torch.Size([1, 2, 2]), 12)
    """
    _check_activation("a_S", a_S)
    return GramTarget(gram_matrix(a_S), a_S.shape[-1] * a_S.shape[-2])


def layer_style_cost(a_S: Tensor | GramTarget, a_G: Tensor, *, normalization: str = "lecture") -> Tensor:
    """Style cost of one layer, :math:`\\frac{1}{(2 n_H n_W n_C)^2}\\lVert G^{(S)} - G^{(G)}\\rVert_F^2`.

    Computed as ``sum((G_S / N_S - G_G / N_G)**2) / (4 C**2)`` with ``N = H * W`` of each
    image, which is the lecture's formula exactly when the two activations have the same size,
    and still compares style (not size) when the style image is larger or smaller.

    Args:
        a_S: style activations ``(B_S, C, H_S, W_S)`` or ``(C, H_S, W_S)`` with ``B_S`` 1 or
            ``B``, or a :class:`GramTarget` computed beforehand with :func:`gram_target`.
        a_G: generated-image activations ``(B, C, H, W)`` or ``(C, H, W)``.
        normalization: ``"lecture"`` (the formula above) or ``"relative"``:
            ``sum((G_S / N_S - G_G / N_G)**2) / sum((G_S / N_S)**2)``, the lecture's cost divided
            by its value for an all-zero ``a_G``, so that every layer (and every image size)
            is on the same scale (what :func:`~coursekit.style.style_transfer` minimises).

    Returns:
        A scalar tensor (summed over the batch).

    Example:
        >>> a_S, a_G = torch.ones(2, 1, 1), torch.zeros(2, 1, 1)  # G_S = all ones, G_G = 0
        >>> layer_style_cost(a_S, a_G).item()  # 4 / (2*1*1*2)**2
        0.25
        >>> layer_style_cost(a_S, a_G, normalization="relative").item()
        1.0
    """
    _check_activation("a_G", a_G)
    target = a_S if isinstance(a_S, GramTarget) else gram_target(a_S)
    c = a_G.shape[-3]
    if target.gram.shape[-1] != c or target.gram.shape[-2] != c:
        raise ValueError(
            f"style and generated activations must have the same channels: Gram of a_S is "
            f"{tuple(target.gram.shape)}, expected (..., {c}, {c}) from a_G {tuple(a_G.shape)}"
        )
    if target.gram.ndim == 3 and (a_G.ndim == 3 or target.gram.shape[0] not in (1, a_G.shape[0])):
        raise ValueError(
            f"batch sizes differ: the style Gram is {tuple(target.gram.shape)}, a_G {tuple(a_G.shape)}"
        )
    g_S = target.gram / target.positions  # (B, C, C) or (C, C): style per position
    if a_G.requires_grad:  # the same sum, with a one-matmul backward pass (see _GramCost)
        squares = _GramCost.apply(g_S, a_G)
    else:
        g_G = gram_matrix(a_G) / (a_G.shape[-1] * a_G.shape[-2])
        squares = (g_S - g_G).pow(2).sum(dim=(-2, -1))  # (B,) or ()
    if normalization == "lecture":
        return squares.sum() / (4 * c * c)
    if normalization == "relative":
        return (squares / g_S.pow(2).sum(dim=(-2, -1)).clamp_min(_TINY)).sum()
    raise ValueError(f"normalization must be 'lecture' or 'relative', got {normalization!r}")


class _GramCost(torch.autograd.Function):
    """``sum((g_S - F F^T / N)**2)`` over the last two dimensions, with a hand-written backward.

    A fast path kept because it measurably shortens a step (``benchmarks/RESULTS_style.md``):
    with ``D = g_S - F F^T / N`` the gradient is ``dJ/dF = -(2 / N) (D + D^T) F``, one matmul
    where autograd's backward of ``F F^T`` needs two, and ``D`` (C x C) is the only tensor saved
    besides ``a_G`` itself (which the ReLU before it keeps anyway). A bfloat16/float16 ``a_G``
    is multiplied in ``g_S``'s dtype (float32); autograd casts its gradient back.
    """

    @staticmethod
    def forward(ctx, g_S: Tensor, a_G: Tensor) -> Tensor:
        n = a_G.shape[-1] * a_G.shape[-2]
        f = a_G.flatten(-2).to(g_S.dtype)  # (B, C, H*W) or (C, H*W); a view if float32
        diff = g_S - (f @ f.transpose(-1, -2)) / n  # (B, C, C) or (C, C)
        ctx.save_for_backward(a_G, diff)
        ctx.target_shape = g_S.shape
        return diff.pow(2).sum(dim=(-2, -1))

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a_G, diff = ctx.saved_tensors
        n = a_G.shape[-1] * a_G.shape[-2]
        k = grad[..., None, None]  # (B, 1, 1) or a 0-dim tensor
        grad_S = grad_G = None
        if ctx.needs_input_grad[0]:
            grad_S = (2 * k * diff).sum_to_size(ctx.target_shape)
        if ctx.needs_input_grad[1]:
            sym = (diff + diff.transpose(-1, -2)) * (-2 * k / n)  # (B, C, C), symmetric
            f = a_G.flatten(-2).to(diff.dtype)  # (B, C, H*W), keeps the layout
            if f.stride(-1) == 1:
                grad_f = sym @ f
            else:  # channels-last: compute (F^T sym)^T so the gradient keeps a_G's layout
                grad_f = (f.transpose(-1, -2) @ sym).transpose(-1, -2)
            grad_G = grad_f.view(a_G.shape)
        return grad_S, grad_G


def style_cost(
    features_S: Mapping[str, Tensor | GramTarget],
    features_G: Mapping[str, Tensor],
    layer_weights: Mapping[str, float],
    *,
    normalization: str = "lecture",
) -> Tensor:
    """Style cost over several layers, :math:`J_{style} = \\sum_l \\lambda^{[l]} J^{[l]}_{style}`.

    Args:
        features_S: layer name -> style activations, or a precomputed :class:`GramTarget`
            (``{l: gram_target(a) for l, a in feats.items()}``, so the style Grams are
            computed once, not at every step).
        features_G: layer name -> generated-image activations.
        layer_weights: layer name -> :math:`\\lambda^{[l]}`; only these layers are used.
        normalization: of each layer's cost, as for :func:`layer_style_cost`.

    Returns:
        A scalar tensor.

    Raises:
        ValueError: ``layer_weights`` is empty or names a layer missing from either dict.

    Example:
        >>> S = {"relu1_1": torch.ones(1, 2, 2, 2), "relu2_1": torch.ones(1, 3, 1, 1)}
        >>> G = {k: torch.zeros_like(v) for k, v in S.items()}
        >>> style_cost(S, G, {"relu1_1": 0.5, "relu2_1": 0.5}).item()  # 0.5 * 0.25 + 0.5 * 0.25
        0.25
    """
    if not layer_weights:
        raise ValueError("layer_weights is empty: give at least one layer and its weight")
    for name in layer_weights:
        for label, feats in (("features_S", features_S), ("features_G", features_G)):
            if name not in feats:
                raise ValueError(f"layer {name!r} is in layer_weights but not in {label} ({sorted(feats)})")
    total = None
    for name, weight in layer_weights.items():
        term = weight * layer_style_cost(features_S[name], features_G[name], normalization=normalization)
        total = term if total is None else total + term
    return total


def total_variation(image: Tensor, *, reduction: str = "sum") -> Tensor:
    """Anisotropic total variation: absolute differences between neighbouring pixels.

    Args:
        image: ``(B, C, H, W)`` or ``(C, H, W)``.
        reduction: ``"sum"`` (over everything) or ``"mean"`` (divided by the number of
            neighbour pairs, so its weight does not depend on the image size).

    Returns:
        A scalar tensor.

    Example:
        >>> total_variation(torch.tensor([[[0., 1.], [1., 1.]]]))  # 1 vertical + 1 horizontal jump
        tensor(2.)
    """
    _check_activation("image", image)
    dh = (image[..., 1:, :] - image[..., :-1, :]).abs()
    dw = (image[..., :, 1:] - image[..., :, :-1]).abs()
    if reduction == "sum":
        return dh.sum() + dw.sum()
    if reduction == "mean":
        return (dh.sum() + dw.sum()) / max(dh.numel() + dw.numel(), 1)
    raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")


def total_cost(J_content: Tensor | float, J_style: Tensor | float, alpha: float = 10, beta: float = 40
               ) -> Tensor | float:
    """The lecture's total cost :math:`J(G) = \\alpha J_{content}(C, G) + \\beta J_{style}(S, G)`.

    Example:
        >>> total_cost(torch.tensor(1.0), torch.tensor(0.5))
        tensor(30.)
    """
    return alpha * J_content + beta * J_style
