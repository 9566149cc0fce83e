"""Face verification as binary classification, lesson 4.5 (DeepFace, Taigman et al., 2014).

Instead of thresholding a distance, a logistic unit decides whether two encodings show the
same person:

.. math:: \\hat y = \\sigma\\Big(\\sum_k w_k\\, x_k + b\\Big)

with the features ``x`` either :func:`abs_features` ``|f(x_i)_k - f(x_j)_k|`` or
:func:`chi2_features`, the chi-square similarity ``(f(x_i)_k - f(x_j)_k)^2 / (f(x_i)_k + f(x_j)_k)``.
The encoder stays frozen; only ``w`` and ``b`` are learned, on pairs drawn by
:func:`make_pairs`, so database encodings can be computed once and stored.

Shapes: ``B`` pairs, ``E`` encoding size, ``N`` images.
"""

from __future__ import annotations

import torch
from torch import nn
from tqdm.auto import tqdm

from coursekit.runtime import get_device

__all__ = [
    "VerificationHead",
    "abs_features",
    "chi2_features",
    "make_pairs",
    "train_verification_head",
]

_MODES = ("abs", "chi2")


def _check_pair(f_i: torch.Tensor, f_j: torch.Tensor) -> None:
    if f_i.dim() != 2 or f_i.shape != f_j.shape:
        raise ValueError(
            f"f_i and f_j must both be (B, E), got {tuple(f_i.shape)} and {tuple(f_j.shape)}"
        )


def abs_features(f_i: torch.Tensor, f_j: torch.Tensor) -> torch.Tensor:
    """Element-wise absolute difference ``|f(x_i)_k - f(x_j)_k|``.

    Args:
        f_i, f_j: ``(B, E)`` encodings of the two images of each pair.

    Returns:
        ``(B, E)`` non-negative features.

    Example:
        >>> abs_features(torch.tensor([[1.0, -2.0]]), torch.tensor([[0.5, 1.0]]))
        tensor([[0.5000, 3.0000]])
    """
    _check_pair(f_i, f_j)
    return (f_i - f_j).abs()


def chi2_features(f_i: torch.Tensor, f_j: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Chi-square features ``(f_i - f_j)^2 / (|f_i| + |f_j| + eps)``, element-wise.

    For non-negative encodings (as in DeepFace, after a ReLU) this is exactly the lecture's
    ``(f(x_i)_k - f(x_j)_k)^2 / (f(x_i)_k + f(x_j)_k)``; the absolute values keep it
    non-negative and finite for L2-normalised encodings, whose components can be negative,
    and ``eps`` avoids 0 / 0 where both components are zero.

    Args:
        f_i, f_j: ``(B, E)`` encodings.
        eps: small positive number added to the denominator.

    Returns:
        ``(B, E)`` non-negative features.

    Example:
        >>> chi2_features(torch.tensor([[1.0, 0.0]]), torch.tensor([[3.0, 0.0]]))
        tensor([[1., 0.]])
    """
    _check_pair(f_i, f_j)
    if eps <= 0:
        raise ValueError(f"eps must be positive, got {eps}")
    return (f_i - f_j).pow(2) / (f_i.abs() + f_j.abs() + eps)


class VerificationHead(nn.Module):
    """The lecture's logistic unit on pair features: ``y_hat = sigmoid(w . x + b)``.

    Args:
        embedding_dim: encoding size ``E``.
        mode: ``"abs"`` (:func:`abs_features`) or ``"chi2"`` (:func:`chi2_features`).

    Shape:
        - ``forward(f_i, f_j)``: ``(B, E), (B, E) -> (B,)`` **logits** ``w . x + b`` (use with
          ``BCEWithLogitsLoss``, which is numerically safer than a sigmoid followed by a log);
        - :meth:`predict_proba`: the same pairs ``-> (B,)`` probabilities ``sigmoid(logits)``
          that the two images show the same person.

    Example:
        >>> head = VerificationHead(4, mode="chi2")
        >>> head(torch.zeros(3, 4), torch.ones(3, 4)).shape
        torch.Size([3])
    """

    def __init__(self, embedding_dim: int = 128, mode: str = "abs") -> None:
        super().__init__()
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        if not isinstance(embedding_dim, int) or embedding_dim < 1:
            raise ValueError(f"embedding_dim must be a positive int, got {embedding_dim!r}")
        self.embedding_dim = embedding_dim
        self.mode = mode
        self.linear = nn.Linear(embedding_dim, 1)

    def features(self, f_i: torch.Tensor, f_j: torch.Tensor) -> torch.Tensor:
        """The ``(B, E)`` pair features of this head's mode."""
        if f_i.dim() != 2 or f_i.shape[1] != self.embedding_dim:
            raise ValueError(
                f"expected encodings (B, {self.embedding_dim}), got {tuple(f_i.shape)}"
            )
        return abs_features(f_i, f_j) if self.mode == "abs" else chi2_features(f_i, f_j)

    def forward(self, f_i: torch.Tensor, f_j: torch.Tensor) -> torch.Tensor:
        return self.linear(self.features(f_i, f_j)).squeeze(1)  # (B,) logits

    def predict_proba(self, f_i: torch.Tensor, f_j: torch.Tensor) -> torch.Tensor:
        """``(B,)`` probability that each pair shows the same person."""
        return torch.sigmoid(self(f_i, f_j))

    def extra_repr(self) -> str:
        return f"embedding_dim={self.embedding_dim}, mode={self.mode!r}"


def make_pairs(
    labels: torch.Tensor,
    *,
    num_pairs: int,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sample balanced pairs: ``num_pairs // 2`` same-person pairs, the rest different-person.

    A same-person pair takes a random image of an identity with two or more images and a
    different image of that identity; a different-person pair takes a random image and a
    random image of any other identity. Vectorised: no loop over the pairs.

    Args:
        labels: ``(N,)`` identities, with at least two identities and one identity having two
            images.
        num_pairs: number of pairs ``P >= 2``.
        generator: optional, for reproducible draws.

    Returns:
        ``(i, j, same)``: ``(P,)`` long, long, bool tensors on ``labels.device``; the
        same-person pairs come first.

    Example:
        >>> i, j, same = make_pairs(torch.tensor([0, 0, 1, 1, 2]), num_pairs=6,
        ...                         generator=torch.Generator().manual_seed(0))
        >>> same.tolist()
        [True, True, True, False, False, False]
        >>> bool(((torch.tensor([0, 0, 1, 1, 2])[i] == torch.tensor([0, 0, 1, 1, 2])[j]) == same).all())
        True
    """
    if labels.dim() != 1:
        raise ValueError(f"labels must be (N,), got shape {tuple(labels.shape)}")
    if not isinstance(num_pairs, int) or num_pairs < 2:
        raise ValueError(f"num_pairs must be an int >= 2, got {num_pairs!r}")
    device = labels.device
    _, inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    if counts.shape[0] < 2 or int(counts.max()) < 2:
        raise ValueError(
            "make_pairs needs at least two identities and one identity with two or more images, "
            f"got {counts.shape[0]} identities with at most {int(counts.max())} image(s) each"
        )
    order = torch.argsort(inverse, stable=True)  # image indices grouped by identity
    start = torch.cumsum(counts, 0) - counts  # (C,) where each identity's group starts
    n = labels.shape[0]
    n_same, n_diff = num_pairs // 2, num_pairs - num_pairs // 2

    def rand_below(high: torch.Tensor) -> torch.Tensor:
        """Uniform integers in [0, high) for a tensor of bounds (drawn on the CPU in float64,
        which not every accelerator has, then moved)."""
        high = high.cpu()
        u = torch.rand(high.shape, generator=generator, dtype=torch.float64)
        return torch.minimum((u * high).long(), high - 1).to(device)

    # Same-person pairs: an anchor among images of identities with 2+ images.
    multi = torch.nonzero(counts[inverse] >= 2).flatten()
    a = multi[rand_below(torch.full((n_same,), multi.shape[0], device=device))]
    c = inverse[a]
    rank = torch.empty_like(order)
    rank[order] = torch.arange(n, device=device)  # position of each image in ``order``
    pos_a = rank[a] - start[c]  # rank within its identity's group
    offset = 1 + rand_below(counts[c] - 1)  # 1 .. count-1: never the anchor itself
    b = order[start[c] + (pos_a + offset) % counts[c]]
    # Different-person pairs: any image, then a position among the images of other identities.
    a2 = rand_below(torch.full((n_diff,), n, device=device))
    c2 = inverse[a2]
    pos = rand_below(n - counts[c2])
    pos = torch.where(pos >= start[c2], pos + counts[c2], pos)  # skip the anchor's group
    b2 = order[pos]
    i = torch.cat([a, a2])
    j = torch.cat([b, b2])
    same = torch.cat([torch.ones(n_same, dtype=torch.bool, device=device),
                      torch.zeros(n_diff, dtype=torch.bool, device=device)])
    return i, j, same


def train_verification_head(
    head: VerificationHead,
    encodings: torch.Tensor,
    labels: torch.Tensor,
    *,
    steps: int = 300,
    lr: float = 0.05,
    batch_size: int = 256,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> dict[str, list[float]]:
    """Fit the head's ``w`` and ``b`` on balanced pairs of fixed encodings (Adam, logistic loss).

    Args:
        head: the :class:`VerificationHead` to train (in place).
        encodings: ``(N, E)`` precomputed encodings (the encoder stays frozen).
        labels: ``(N,)`` identities.
        steps: optimisation steps, each on ``batch_size`` fresh pairs from :func:`make_pairs`.
        lr: Adam learning rate.
        batch_size: pairs per step.
        generator: optional, for reproducible pairs.
        device: where to train (``None``: :func:`~coursekit.runtime.get_device` ``("auto")``).
        progress: show a tqdm progress bar.

    Returns:
        History dict with per-step ``loss`` (binary cross-entropy) and ``accuracy`` (at
        probability 0.5) on the step's pairs.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> encodings = torch.nn.functional.normalize(torch.randn(8, 4, generator=g), dim=1)
        >>> labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])  # (N,): 4 people, 2 images each
        >>> head = VerificationHead(4)
        >>> history = train_verification_head(head, encodings, labels, steps=2, batch_size=8,
        ...                                    generator=g, device="cpu", progress=False)
        >>> len(history["loss"]), len(history["accuracy"]), head.training
        (2, 2, False)
    """
    if encodings.dim() != 2 or encodings.shape[1] != head.embedding_dim:
        raise ValueError(
            f"encodings must be (N, {head.embedding_dim}), got {tuple(encodings.shape)}"
        )
    if labels.shape != encodings.shape[:1]:
        raise ValueError(f"labels must be ({encodings.shape[0]},), got {tuple(labels.shape)}")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    dev = get_device(device)
    head.to(dev).train()
    x = encodings.detach().to(dev, torch.float32)
    y_all = labels.to(dev)
    opt = torch.optim.Adam(head.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    history: dict[str, list[float]] = {"loss": [], "accuracy": []}
    for _ in tqdm(range(steps), desc="verification head", disable=not progress):
        i, j, same = make_pairs(y_all, num_pairs=batch_size, generator=generator)
        target = same.to(torch.float32)
        logits = head(x[i], x[j])
        loss = loss_fn(logits, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history["loss"].append(float(loss.detach()))
        history["accuracy"].append(float(((logits.detach() > 0) == same).float().mean()))
    head.eval()
    return history
