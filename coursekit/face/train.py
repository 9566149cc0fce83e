"""Training the face encoder with the triplet loss (lessons 4.3-4.4).

Each step draws a batch of P people x K images (:class:`PKSampler`), so every anchor has
positives and negatives in the batch, augments it (:func:`augment_faces`), encodes it, and
minimises a triplet loss: batch-hard (Hermans et al. 2017) by default, or the plain triplet
loss on triplets chosen by :func:`~coursekit.face.mine_triplets` ("semihard", "hard",
"random", "all"). :func:`train_encoder` returns the encoder and a history (a dict of lists);
:func:`embed` encodes many images in batches without gradients.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from coursekit.data.faces import FaceDataset
from coursekit.face.distances import pairwise_distances
from coursekit.face.encoder import FaceEncoder
from coursekit.face.miners import MINING_STRATEGIES, mine_triplets
from coursekit.face.triplet import _batch_hard, triplet_loss
from coursekit.runtime import get_device

__all__ = ["PKSampler", "TrainConfig", "augment_faces", "embed", "train_encoder"]


class PKSampler:
    """Batches of ``P`` people x ``K`` images each, as index tensors.

    People are visited in a fresh random order every epoch; a person with fewer than ``K``
    images contributes all of them plus random repeats. One epoch has
    ``max(1, num_people // P)`` batches.

    Args:
        labels: ``(N,)`` person labels.
        people_per_batch: ``P`` (at most the number of people with an image).
        images_per_person: ``K``.
        generator: the sampling randomness.

    Example:
        >>> labels = torch.arange(6).repeat_interleave(3)
        >>> batches = list(PKSampler(labels, 2, 2, generator=torch.Generator().manual_seed(0)))
        >>> len(batches), tuple(batches[0].shape), labels[batches[0]].unique().numel()
        (3, (4,), 2)
    """

    def __init__(self, labels: torch.Tensor, people_per_batch: int, images_per_person: int, *,
                 generator: torch.Generator | None = None) -> None:
        labels = torch.as_tensor(labels).cpu()
        self.groups = [(labels == c).nonzero().flatten() for c in torch.unique(labels)]
        if people_per_batch < 2 or images_per_person < 1:
            raise ValueError(f"need people_per_batch >= 2 and images_per_person >= 1, got "
                             f"{people_per_batch} and {images_per_person}")
        self.P = min(int(people_per_batch), len(self.groups))
        if self.P < 2:
            raise ValueError(f"a triplet batch needs at least 2 people, the labels hold {len(self.groups)}")
        self.K = int(images_per_person)
        self.generator = generator

    def __len__(self) -> int:
        return max(1, len(self.groups) // self.P)

    def __iter__(self) -> Iterator[torch.Tensor]:
        g = self.generator
        order = torch.randperm(len(self.groups), generator=g)
        for b in range(len(self)):
            batch = []
            for c in order[b * self.P:(b + 1) * self.P].tolist():
                idx = self.groups[c]
                pick = torch.randperm(len(idx), generator=g)[: self.K]
                if len(pick) < self.K:  # too few images: repeat some
                    extra = torch.randint(len(idx), (self.K - len(pick),), generator=g)
                    pick = torch.cat([pick, extra])
                batch.append(idx[pick])
            yield torch.cat(batch)  # (P*K,)


def augment_faces(
    images: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    max_shift: float = 0.06,
    max_rotation: float = 0.12,
    max_zoom: float = 0.08,
    flip: bool = True,
    brightness: float = 0.15,
    contrast: float = 0.15,
) -> torch.Tensor:
    """Random small shifts, rotations, zooms, mirror flips and brightness/contrast changes.

    One ``grid_sample`` for the geometry (border padding), vectorised over the batch; the
    random numbers come from ``generator`` (CPU) and are moved to the images' device.

    Args:
        images: ``(B, C, H, W)`` in [0, 1].
        generator: the randomness (``None``: torch's global RNG).
        max_shift: largest shift, as a fraction of the image side.
        max_rotation: largest rotation in radians.
        max_zoom: largest relative zoom in or out.
        flip: mirror half of the images left-right.
        brightness: largest added brightness.
        contrast: largest relative contrast change.

    Returns:
        ``(B, C, H, W)`` in [0, 1], same device and dtype.

    Example:
        >>> x = torch.rand(4, 1, 16, 16)
        >>> tuple(augment_faces(x, generator=torch.Generator().manual_seed(0)).shape)
        (4, 1, 16, 16)
    """
    if images.ndim != 4:
        raise ValueError(f"images must be (B, C, H, W), got shape {tuple(images.shape)}")
    B = images.shape[0]

    def u(scale: float) -> torch.Tensor:  # uniform in [-scale, scale], (B,)
        return (2 * torch.rand(B, generator=generator) - 1) * scale

    angle, zoom = u(max_rotation), 1 + u(max_zoom)
    sx = torch.where(torch.rand(B, generator=generator) < 0.5, -1.0, 1.0) if flip else torch.ones(B)
    tx, ty = u(2 * max_shift), u(2 * max_shift)  # grid coordinates span [-1, 1]
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos * sx, -sin, tx], 1), torch.stack([sin * sx, cos, ty], 1)], 1)
    b, c = u(brightness), 1 + u(contrast)  # (B,)
    theta, b, c = (t.to(device=images.device, dtype=images.dtype) for t in (theta, b, c))
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)  # (B, H, W, 2)
    out = F.grid_sample(images, grid, padding_mode="border", align_corners=False)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    out = (out - mean) * c.view(B, 1, 1, 1) + mean + b.view(B, 1, 1, 1)
    return out.clamp(0.0, 1.0)


@dataclass(frozen=True)
class TrainConfig:
    """One training run's settings. The defaults are the course's from-scratch recipe for
    Olivetti (30 training people, 400 steps of 15 people x 6 photos; about 200 CPU-seconds);
    ``benchmarks/face_one_shot.py`` measures it on 10 unseen people (see
    ``benchmarks/RESULTS_face.md``: about 80% one-shot 10-way accuracy, short of the 90% goal).

    Attributes:
        epochs: passes over the people (each epoch: ``num_people // people_per_batch`` steps).
        people_per_batch: ``P`` people in each batch.
        images_per_person: ``K`` images of each person in each batch.
        lr: Adam learning rate (cosine decay to 0 after a short warm-up).
        weight_decay: AdamW weight decay.
        alpha: the triplet margin.
        strategy: ``"batch_hard"`` (batch-hard loss, mean over anchors), or a
            :func:`~coursekit.face.mine_triplets` strategy whose triplets feed
            :func:`~coursekit.face.triplet_loss` (mean over the mined triplets).
        augment: apply :func:`augment_faces` to each batch.
        embedding_dim: ``E``, used when ``train_encoder`` builds the encoder.
        widths: conv widths of the encoder it builds.
        input_size: that encoder's ``input_size`` (images resized to this side first).
        dropout: that encoder's dropout.
        steps_per_epoch: override the number of steps per epoch (``None``: as above).
    """

    epochs: int = 200
    people_per_batch: int = 15
    images_per_person: int = 6
    lr: float = 3e-3
    weight_decay: float = 1e-4
    alpha: float = 0.2
    strategy: str = "batch_hard"
    augment: bool = True
    embedding_dim: int = 128
    widths: tuple[int, ...] = (16, 32, 64, 128)
    input_size: int | None = 32
    dropout: float = 0.0
    steps_per_epoch: int | None = None

    def __post_init__(self) -> None:
        if self.strategy not in MINING_STRATEGIES:
            raise ValueError(f"strategy must be one of {MINING_STRATEGIES}, got {self.strategy!r}")
        if self.epochs < 1 or self.lr <= 0 or self.alpha < 0:
            raise ValueError(f"need epochs >= 1, lr > 0 and alpha >= 0 (got {self.epochs}, {self.lr}, "
                             f"{self.alpha})")


def _active_fraction(z: torch.Tensor, labels: torch.Tensor, alpha: float) -> float:
    """Fraction of ALL valid triplets of the batch with a non-zero loss (comparable across
    strategies); counted per (a, p) pair against every negative, without building triplets."""
    d = pairwise_distances(z)
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    pos = same & ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    a, p = pos.nonzero(as_tuple=True)
    neg = ~same[a]  # (T_pos, B)
    active = neg & (d[a] < d[a, p].unsqueeze(1) + alpha)
    return float(active.sum()) / max(int(neg.sum()), 1)


def train_encoder(
    dataset: FaceDataset,
    config: TrainConfig = TrainConfig(),
    *,
    encoder: FaceEncoder | None = None,
    device: str | torch.device | None = None,
    generator: torch.Generator | None = None,
    progress: bool = True,
) -> tuple[FaceEncoder, dict[str, list[float]]]:
    """Train a face encoder with a triplet loss on P x K batches.

    Args:
        dataset: the training faces (people in it should not be the ones you evaluate on).
        config: the run's settings.
        encoder: start from this encoder (default: a new ``FaceEncoder`` from ``config``).
        device: where to train (``None``: :func:`~coursekit.runtime.get_device` ``("auto")``).
        generator: all randomness (batches, augmentation, random mining).
        progress: show a tqdm progress bar.

    Returns:
        ``(encoder, history)``, the encoder on ``device`` in eval mode; ``history`` has one
        entry per step in ``"loss"``, ``"active_fraction"`` (share of all valid triplets in
        the batch with non-zero loss), ``"num_triplets"`` (triplets the loss used) and ``"lr"``,
        and one per epoch in ``"epoch_loss"`` and ``"epoch_active_fraction"``.
    """
    from tqdm.auto import tqdm

    dev = get_device(device)
    if generator is None:
        generator = torch.Generator().manual_seed(int(torch.randint(2**31, (1,))))
    if encoder is None:  # initialised from `generator`, leaving torch's global RNG alone
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
            encoder = FaceEncoder(config.embedding_dim, dataset.images.shape[1], widths=config.widths,
                                  input_size=config.input_size, dropout=config.dropout)
    encoder = encoder.to(dev).train()
    images, labels = dataset.images.to(dev), dataset.labels.to(dev)
    sampler = PKSampler(dataset.labels, config.people_per_batch, config.images_per_person,
                        generator=generator)
    steps = config.steps_per_epoch or len(sampler)
    total = steps * config.epochs
    opt = torch.optim.AdamW(encoder.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    warmup = max(1, total // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    history: dict[str, list[float]] = {k: [] for k in (
        "loss", "active_fraction", "num_triplets", "lr", "epoch_loss", "epoch_active_fraction")}
    bar = tqdm(total=total, desc=f"training ({config.strategy})", disable=not progress, leave=False)

    def batches() -> Iterator[torch.Tensor]:
        while True:
            yield from sampler

    it = batches()
    for _ in range(config.epochs):
        e_loss, e_active = [], []
        for _ in range(steps):
            idx = next(it).to(dev)
            x, y = images[idx], labels[idx]
            if config.augment:
                x = augment_faces(x, generator=generator)
            z = encoder(x)
            if config.strategy == "batch_hard":
                losses, valid = _batch_hard(z, y, config.alpha)
                loss = losses.sum() / valid.sum().clamp_min(1)
                n_trip = int(valid.sum())
            else:
                a, p, n = mine_triplets(z, y, config.strategy, config.alpha, generator=generator)
                loss = triplet_loss(z[a], z[p], z[n], config.alpha, reduction="mean")
                n_trip = len(a)
            opt.zero_grad(set_to_none=True)
            if loss.requires_grad and n_trip > 0:
                loss.backward()
                opt.step()
            history["lr"].append(opt.param_groups[0]["lr"])
            sched.step()
            with torch.no_grad():
                active = _active_fraction(z.detach(), y, config.alpha)
            history["loss"].append(float(loss.detach()))
            history["active_fraction"].append(active)
            history["num_triplets"].append(n_trip)
            e_loss.append(history["loss"][-1])
            e_active.append(active)
            bar.update(1)
            bar.set_postfix(loss=f"{e_loss[-1]:.3f}", active=f"{active:.2f}")
        history["epoch_loss"].append(sum(e_loss) / len(e_loss))
        history["epoch_active_fraction"].append(sum(e_active) / len(e_active))
    bar.close()
    return encoder.eval(), history


def embed(
    encoder: torch.nn.Module,
    images: torch.Tensor,
    *,
    batch_size: int = 256,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Encode images in batches, without gradients, in eval mode.

    Args:
        encoder: maps ``(B, C, H, W)`` to ``(B, E)``.
        images: ``(N, C, H, W)`` (or one image ``(C, H, W)``).
        batch_size: images per forward pass.
        device: where to run (``None``: the encoder's device).

    Returns:
        ``(N, E)`` (or ``(E,)``) encodings on the **images'** device; the encoder's
        train/eval mode is restored afterwards.

    Example:
        >>> enc = FaceEncoder(embedding_dim=8, widths=(4, 4, 4, 4))
        >>> tuple(embed(enc, torch.rand(5, 1, 32, 32), batch_size=2).shape)
        (5, 8)
    """
    single = images.ndim == 3
    if single:
        images = images.unsqueeze(0)
    if images.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W) or (C, H, W), got shape {tuple(images.shape)}")
    if device is None:
        param = next(encoder.parameters(), None)
        dev = param.device if param is not None else images.device
    else:
        dev = get_device(device)
        encoder.to(dev)
    was_training = encoder.training
    encoder.eval()
    try:
        with torch.no_grad():
            out = [encoder(images[i:i + batch_size].to(dev)).to(images.device)
                   for i in range(0, len(images), batch_size)]
    finally:
        encoder.train(was_training)
    if not out:
        e = getattr(encoder, "embedding_dim", 0)
        return torch.zeros(0, e, device=images.device)
    z = torch.cat(out)
    return z[0] if single else z
