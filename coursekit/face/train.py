"""Training the face encoder with the triplet loss (lessons 4.3-4.4).

Each step draws a batch of P people x K images (:class:`~coursekit.face.PKSampler`), so every
anchor has positives and negatives in the batch, augments it (:func:`~coursekit.face.augment_faces`),
encodes it, and minimises a triplet loss: batch-hard (Hermans et al. 2017) by default, or the
plain triplet loss on triplets chosen by :func:`~coursekit.face.mine_triplets` ("semihard",
"hard", "random", "all"). By default an auxiliary ArcFace loss over the training identities
(:func:`~coursekit.face.margin_softmax_loss`) is added with weight ``aux_weight``
(``aux_loss=None`` trains with the triplet loss alone); the triplet loss stays the lecture's
objective, the auxiliary term keeps teaching after the batch-hard triplets are all satisfied.
:func:`train_encoder` returns the encoder and a history (a dict of lists).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator

import torch

from coursekit.data.faces import FaceDataset
from coursekit.face._ablations import _batch_hard_soft, _mix, _random_erase, _spread_out
from coursekit.face.augment import augment_faces
from coursekit.face.distances import pairwise_distances
from coursekit.face.ema import ModelEMA, ema_update_
from coursekit.face.encoder import FaceEncoder
from coursekit.face.margin_softmax import MarginSoftmaxLoss
from coursekit.face.miners import mine_triplets
from coursekit.face.sampler import PKSampler
from coursekit.face.train_config import TrainConfig
from coursekit.face.triplet import _batch_hard, triplet_loss
from coursekit.runtime import get_device

__all__ = ["train_encoder"]


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
        generator: all randomness (batches, augmentation, random mining).
        progress: show a tqdm progress bar.

    Returns:
        ``(encoder, history)``, the encoder on ``device`` in eval mode; ``history`` has one
        entry per step in ``"loss"`` (the total minimised), ``"triplet_loss"``, ``"aux_loss"``
        (0 without an auxiliary loss), ``"active_fraction"`` (share of all valid triplets in
        the batch with non-zero loss), ``"num_triplets"`` (triplets the loss used) and ``"lr"``,
        and one per epoch in ``"epoch_loss"``, ``"epoch_triplet_loss"``, ``"epoch_aux_loss"``
        and ``"epoch_active_fraction"``. The auxiliary classifier is discarded.

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
    if encoder is None:  # initialised from `generator`, leaving torch's global RNG alone
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
            encoder = FaceEncoder(config.embedding_dim, dataset.images.shape[1], widths=config.widths,
                                  input_size=config.input_size, dropout=config.dropout)
    encoder = encoder.to(dev).train()
    images, labels = dataset.images.to(dev), dataset.labels.to(dev)
    sampler = PKSampler(dataset.labels, config.people_per_batch, config.images_per_person,
                        generator=generator)
    params = list(encoder.parameters())
    aux = None
    if config.aux_loss is not None:  # one learned direction per training person, also from `generator`
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
            aux = MarginSoftmaxLoss(dataset.num_people, encoder.embedding_dim, kind=config.aux_loss,
                                    scale=config.aux_scale, margin=config.aux_margin,
                                    label_smoothing=config.aux_label_smoothing).to(dev)
        params += list(aux.parameters())
    steps = config.steps_per_epoch or len(sampler)
    total = steps * config.epochs
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    warmup = max(1, total // 20)
    swa_begin = total - int(round(config.swa_fraction * total)) if config.swa_fraction > 0 else total
    floor = config.swa_lr if swa_begin < total else 0.0  # the cosine decays to `floor` at swa_begin

    def lr_factor(s: int) -> float:
        cosine = 0.5 * (1 + math.cos(math.pi * min(s, swa_begin) / swa_begin))
        return min(1.0, (s + 1) / warmup) * (floor + (1 - floor) * cosine)

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    per_step = ("loss", "triplet_loss", "aux_loss", "active_fraction")
    history: dict[str, list[float]] = {k: [] for k in (
        *per_step, "num_triplets", "lr", *(f"epoch_{k}" for k in per_step))}
    bar = tqdm(total=total, desc=f"training ({config.strategy})", disable=not progress, leave=False)

    def batches() -> Iterator[torch.Tensor]:
        while True:
            yield from sampler

    it = batches()
    ema = ModelEMA(encoder, decay=config.ema_decay) if config.ema_decay > 0 else None
    swa, num_averaged, step = None, 0, 0
    for _ in range(config.epochs):
        first = len(history["loss"])
        for _ in range(steps):
            idx = next(it).to(dev)
            x, y = images[idx], labels[idx]
            if config.augment:
                x = augment_faces(x, generator=generator)
            if config.erase_prob > 0:
                x = _random_erase(x, config.erase_prob, generator)
            z = encoder(x)
            strategy = config.strategy
            if step < round(config.semihard_warmup * total):  # a gentler start, then `strategy`
                strategy = "semihard"
            if strategy == "batch_hard":
                if config.soft_margin:
                    losses, valid = _batch_hard_soft(z, y)
                else:
                    losses, valid = _batch_hard(z, y, config.alpha)
                tri = losses.sum() / valid.sum().clamp_min(1)
                n_trip = int(valid.sum())
            else:
                a, p, n = mine_triplets(z, y, strategy, config.alpha, generator=generator)
                # index_select, not z[a]: its backward (index_add) sums in a fixed order, while
                # advanced indexing's (index_put, accumulate) depends on the CPU threads
                za, zp, zn = (z.index_select(0, t) for t in (a, p, n))  # (T, E) each
                tri = triplet_loss(za, zp, zn, config.alpha, reduction="mean")
                n_trip = len(a)
            if aux is None:
                aux_loss = torch.zeros((), device=dev)
            elif config.aux_mix is not None:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
                    xm, perm, lam = _mix(x, config.aux_mix, config.aux_mix_alpha, generator)
                zm = encoder(xm)
                aux_loss = lam * aux(zm, y) + (1 - lam) * aux(zm, y[perm.to(dev)])
            else:
                aux_loss = aux(z, y)
            loss = tri + config.aux_weight * aux_loss if aux is not None else tri
            if config.spread_weight > 0:
                loss = loss + config.spread_weight * _spread_out(z, y)
            opt.zero_grad(set_to_none=True)
            if loss.requires_grad and (n_trip > 0 or aux is not None):
                loss.backward()
                opt.step()
                if ema is not None:
                    ema.update(encoder)
                if step >= swa_begin:  # uniform average: the n-th model gets weight 1 / (n + 1)
                    if swa is None:
                        swa = copy.deepcopy(encoder)
                    ema_update_(swa, encoder, decay=num_averaged / (num_averaged + 1))
                    num_averaged += 1
            step += 1
            history["lr"].append(opt.param_groups[0]["lr"])
            sched.step()
            with torch.no_grad():
                active = _active_fraction(z.detach(), y, config.alpha)
            for k, v in zip(per_step, (float(loss.detach()), float(tri.detach()), float(aux_loss.detach()),
                                       active)):
                history[k].append(v)
            history["num_triplets"].append(n_trip)
            bar.update(1)
            bar.set_postfix(loss=f"{history['loss'][-1]:.3f}", active=f"{active:.2f}")
        for k in per_step:
            values = history[k][first:]
            history[f"epoch_{k}"].append(sum(values) / len(values))
    bar.close()
    if ema is not None:  # the same module object, now holding the average
        encoder.load_state_dict(ema.module.state_dict())
    if swa is not None:
        encoder.load_state_dict(swa.state_dict())
    if config.precise_bn is not None:
        order = torch.randperm(len(images), generator=generator).to(dev)
        size = config.people_per_batch * config.images_per_person
        chunks = [images[order[i:i + size]] for i in range(0, len(images), size)
                  if len(images) - i >= 2]  # (a batch of one has no variance)
        if config.precise_bn == "augmented":
            chunks = [augment_faces(c, generator=generator) for c in chunks]
        with torch.no_grad():
            torch.optim.swa_utils.update_bn(chunks, encoder)
    return encoder.eval(), history
