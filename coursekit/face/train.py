"""Training the face encoder with the triplet loss (lessons 4.3-4.4).

Each step draws a batch of P people x K images (:class:`~coursekit.face.PKSampler`), so every
anchor has positives and negatives in the batch, augments it (:func:`~coursekit.face.augment_faces`),
encodes it, and minimises a triplet loss: batch-hard (Hermans et al. 2017) by default, or the
plain triplet loss on triplets chosen by :func:`~coursekit.face.mine_triplets` ("semihard",
"hard", "random", "all"). An auxiliary margin-softmax loss over the training identities
(:func:`~coursekit.face.margin_softmax_loss`, ArcFace in the default recipe) can be added; it
keeps teaching once the batch-hard triplets are all satisfied. :func:`train_step` is one
optimisation step; :func:`train_encoder` builds the encoder, optimiser and schedule and runs the
loop, returning the encoder and a history (a dict of lists).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch
from torch import nn

from coursekit.data.faces import FaceDataset
from coursekit.face.augment import augment_faces
from coursekit.face.distances import label_masks, pairwise_distances
from coursekit.face.encoder import FaceEncoder
from coursekit.face.margin_softmax import MarginSoftmaxLoss
from coursekit.face.miners import mine_triplets
from coursekit.face.sampler import PKSampler
from coursekit.face.train_config import TrainConfig
from coursekit.face.triplet import batch_hard_triplet_loss, triplet_loss
from coursekit.runtime import get_device

__all__ = ["train_encoder", "train_step"]

_PER_STEP = ("loss", "triplet_loss", "aux_loss", "active_fraction")


def _active_fraction(z: torch.Tensor, labels: torch.Tensor, alpha: float) -> float:
    """Fraction of ALL valid triplets of the batch with a non-zero loss (comparable across
    strategies); counted per (a, p) pair against every negative, without building triplets."""
    d = pairwise_distances(z)
    pos, neg = label_masks(labels)  # (B, B) each
    a, p = pos.nonzero(as_tuple=True)
    neg = neg[a]  # (T_pos, B)
    active = neg & (d[a] < d[a, p].unsqueeze(1) + alpha)
    return float(active.sum()) / max(int(neg.sum()), 1)


def _triplet_term(z: torch.Tensor, labels: torch.Tensor, config: TrainConfig,
                  generator: torch.Generator | None) -> tuple[torch.Tensor, int]:
    """The batch's triplet loss under ``config.strategy`` and the number of triplets it used."""
    if config.strategy == "batch_hard":  # one triplet per anchor that has a positive and a negative
        pos, neg = label_masks(labels)  # (B, B) each
        n_trip = int((pos.any(1) & neg.any(1)).sum())
        return batch_hard_triplet_loss(z, labels, config.alpha), n_trip
    a, p, n = mine_triplets(z, labels, config.strategy, config.alpha, generator=generator)
    # index_select, not z[a]: its backward (index_add) sums in a fixed order, while advanced
    # indexing's (index_put, accumulate) depends on the CPU threads
    za, zp, zn = (z.index_select(0, t) for t in (a, p, n))  # (T, E) each
    return triplet_loss(za, zp, zn, config.alpha, reduction="mean"), len(a)


def train_step(
    encoder: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    config: TrainConfig,
    *,
    aux: MarginSoftmaxLoss | None = None,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """One optimisation step on a P x K batch: augment, encode, loss, backward, update.

    Args:
        encoder: the encoder being trained (in train mode), on the batch's device.
        images: ``(B, C, H, W)`` the batch's faces.
        labels: ``(B,)`` their person labels.
        optimizer: updates the encoder's (and ``aux``'s) parameters.
        config: ``alpha``, ``strategy``, ``augment`` and ``aux_weight`` are read.
        aux: the auxiliary margin-softmax loss over the training people, or ``None``.
        generator: the randomness of augmentation and of random mining.

    Returns:
        ``"loss"`` (the total minimised), ``"triplet_loss"``, ``"aux_loss"`` (0 without
        ``aux``), ``"active_fraction"`` (share of all valid triplets of the batch with a
        non-zero loss, measured on the encodings before the update) and ``"num_triplets"``
        (triplets the loss used). A batch without a usable triplet and without ``aux`` leaves
        the weights as they are.

    Example:
        >>> enc = FaceEncoder(8, widths=(4, 8), input_size=16)
        >>> opt = torch.optim.AdamW(enc.parameters(), lr=1e-3)
        >>> x, y = torch.rand(6, 1, 16, 16), torch.tensor([0, 0, 1, 1, 2, 2])
        >>> stats = train_step(enc, x, y, opt, TrainConfig(aux_loss=None))
        >>> sorted(stats), stats["num_triplets"]
        (['active_fraction', 'aux_loss', 'loss', 'num_triplets', 'triplet_loss'], 6)
    """
    if config.augment:
        images = augment_faces(images, generator=generator)
    z = encoder(images)  # (B, E)
    labels = labels.to(z.device)  # label masks and the aux loss's targets meet z: one device
    tri, n_trip = _triplet_term(z, labels, config, generator)
    aux_loss = aux(z, labels) if aux is not None else torch.zeros((), device=z.device)
    loss = tri + config.aux_weight * aux_loss if aux is not None else tri
    optimizer.zero_grad(set_to_none=True)
    if loss.requires_grad and (n_trip > 0 or aux is not None):
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        active = _active_fraction(z.detach(), labels, config.alpha)
    return {"loss": float(loss.detach()), "triplet_loss": float(tri.detach()),
            "aux_loss": float(aux_loss.detach()), "active_fraction": active, "num_triplets": n_trip}


def _seeded(generator: torch.Generator, build):
    """``build()`` under torch's global CPU RNG seeded from ``generator``, leaving every global
    RNG alone: ``fork_rng(devices=[])`` saves and restores only the CPU's, so the seed goes to
    the CPU generator alone (``torch.manual_seed`` would also reseed every CUDA device's)."""
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
        return build()


def _warmup_cosine(total: int) -> Callable[[int], float]:
    """The factor of ``lr`` at step ``s``: a linear warm-up over 5% of the steps, then cosine to 0."""
    warmup = max(1, total // 20)

    def factor(s: int) -> float:
        return min(1.0, (s + 1) / warmup) * (0.5 * (1 + math.cos(math.pi * min(s, total) / total)))

    return factor


def _endless(sampler: PKSampler) -> Iterator[torch.Tensor]:
    while True:
        yield from sampler


def train_encoder(
    dataset: FaceDataset,
    config: TrainConfig | None = None,
    *,
    encoder: FaceEncoder | None = None,
    device: str | torch.device | None = None,
    generator: torch.Generator | None = None,
    progress: bool = True,
) -> tuple[FaceEncoder, dict[str, list[float]]]:
    """Train a face encoder with a triplet loss on P x K batches.

    Args:
        dataset: the training faces (people in it should not be the ones you evaluate on).
        config: the run's settings (``None``: ``TrainConfig()``, the course's recipe).
        encoder: start from this encoder (default: a new ``FaceEncoder`` from ``config``).
        device: where to train (``None``: :func:`~coursekit.runtime.get_device` ``("auto")``).
        generator: all randomness (initialisation, batches, augmentation, random mining).
        progress: show a tqdm progress bar.

    Returns:
        ``(encoder, history)``, the encoder on ``device`` in eval mode; ``history`` has one
        entry per step in ``"loss"``, ``"triplet_loss"``, ``"aux_loss"``, ``"active_fraction"``,
        ``"num_triplets"`` (see :func:`train_step`) and ``"lr"``, and one per epoch in
        ``"epoch_loss"``, ``"epoch_triplet_loss"``, ``"epoch_aux_loss"`` and
        ``"epoch_active_fraction"``. The auxiliary classifier is discarded.

    Example:
        >>> from coursekit.data import synthetic_faces
        >>> faces = synthetic_faces(6, 4, 32, generator=torch.Generator().manual_seed(0))
        >>> cfg = TrainConfig(epochs=2, people_per_batch=3, images_per_person=2, widths=(8, 16))
        >>> enc, hist = train_encoder(faces, cfg, device="cpu", progress=False,
        ...                           generator=torch.Generator().manual_seed(0))
        >>> len(hist["loss"]), len(hist["epoch_loss"]), tuple(enc(faces.images[:2]).shape)
        (4, 2, (2, 128))
    """
    from tqdm.auto import tqdm

    config = TrainConfig() if config is None else config
    dev = get_device(device)
    if generator is None:
        generator = torch.Generator().manual_seed(int(torch.randint(2**31, (1,))))
    if encoder is None:  # initialised from `generator`, as is the auxiliary classifier below
        encoder = _seeded(generator, lambda: FaceEncoder(
            config.embedding_dim, dataset.images.shape[1], widths=config.widths,
            input_size=config.input_size, dropout=config.dropout))
    encoder = encoder.to(dev).train()
    images, labels = dataset.images.to(dev), dataset.labels.to(dev)
    sampler = PKSampler(dataset.labels, config.people_per_batch, config.images_per_person,
                        generator=generator)
    aux = None
    if config.aux_loss is not None:  # one learned direction per training person
        aux = _seeded(generator, lambda: MarginSoftmaxLoss(
            dataset.num_people, encoder.embedding_dim, kind=config.aux_loss, scale=config.aux_scale,
            margin=config.aux_margin, label_smoothing=config.aux_label_smoothing)).to(dev)
    params = list(encoder.parameters()) + (list(aux.parameters()) if aux is not None else [])
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    steps = config.steps_per_epoch or len(sampler)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, _warmup_cosine(steps * config.epochs))

    history: dict[str, list[float]] = {k: [] for k in (
        *_PER_STEP, "num_triplets", "lr", *(f"epoch_{k}" for k in _PER_STEP))}
    batches = _endless(sampler)
    with tqdm(total=steps * config.epochs, desc=f"training ({config.strategy})", disable=not progress,
              leave=False) as bar:
        for _ in range(config.epochs):
            for _ in range(steps):
                idx = next(batches).to(dev)
                stats = train_step(encoder, images[idx], labels[idx], optimizer, config, aux=aux,
                                   generator=generator)
                history["lr"].append(optimizer.param_groups[0]["lr"])
                schedule.step()
                for key, value in stats.items():
                    history[key].append(value)
                bar.update(1)
                bar.set_postfix(loss=f"{stats['loss']:.3f}", active=f"{stats['active_fraction']:.2f}")
            for key in _PER_STEP:  # the epoch's mean
                history[f"epoch_{key}"].append(sum(history[key][-steps:]) / steps)
    return encoder.eval(), history
