"""The settings of one face-encoder training run (:func:`~coursekit.face.train_encoder`, lessons
4.3-4.4): one frozen dataclass, validated when built. The defaults are the course's from-scratch
recipe for Olivetti; the switches that are off by default are the ablations measured in
``benchmarks/RESULTS_face.md`` (none of them beat the recipe), kept so those runs can be repeated.
"""

from __future__ import annotations

from dataclasses import dataclass

from coursekit.face.margin_softmax import MARGIN_LOSSES
from coursekit.face.miners import MINING_STRATEGIES

__all__ = ["TrainConfig"]


@dataclass(frozen=True)
class TrainConfig:
    """One training run's settings. The defaults are the course's from-scratch recipe for
    Olivetti: 30 training people, 600 steps of 10 people x 6 augmented photos (200 epochs), an
    encoder of widths (32, 64, 128, 256) on 32 x 32 faces, the batch-hard triplet loss plus an
    auxiliary ArcFace loss (s = 30, m = 0.5, weight 1, label smoothing 0.3); about 40
    CPU-seconds on one core. ``benchmarks/face_one_shot.py`` measures it on 10 unseen people
    over 5 identity splits (see ``benchmarks/RESULTS_face.md``): one-shot 10-way accuracy 0.922
    (0.925 with ``embed(..., flip=True)``), ROC AUC 0.979 (0.981); over three draws of the
    training noise 0.924 / AUC 0.979 with flip averaging; with flip and 1-px shift views
    (``embed(..., flip=True, shift=1)``) and :func:`~coursekit.face.s_norm` against the
    training people, 0.936-0.938 / AUC 0.981-0.984 on two draws. ``people_per_batch=15`` is the
    previous recipe (0.920 / 0.927, AUC 0.976 / 0.978; three draws 0.922 / 0.976), and
    ``aux_label_smoothing=0.0`` with it the one before (0.906 / 0.915, AUC 0.974 / 0.975).
    ``soft_margin``, ``semihard_warmup`` and the fields from ``ema_decay`` on are ablation
    switches, off by default, none of which helped (the results file has their measurements).

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
        soft_margin: with ``"batch_hard"``, the soft-margin form ``softplus(d(a, p) - d(a, n))``
            of Hermans et al. (2017) instead of ``max(0, d(a, p) - d(a, n) + alpha)``: it keeps
            pushing satisfied triplets apart, ever more gently (``alpha`` unused).
        semihard_warmup: this first fraction of the steps mines semi-hard triplets (FaceNet's
            ``"semihard"``) before ``strategy`` takes over; 0 (off) by default.
        augment: apply :func:`augment_faces` to each batch.
        embedding_dim: ``E``, used when ``train_encoder`` builds the encoder.
        widths: conv widths of the encoder it builds.
        input_size: that encoder's ``input_size`` (images resized to this side first).
        dropout: that encoder's dropout.
        steps_per_epoch: override the number of steps per epoch (``None``: as above).
        aux_loss: ``None`` (the triplet loss alone) or a :data:`~coursekit.face.MARGIN_LOSSES`
            kind (``"cosface"``, ``"arcface"``, ``"softmax"``) over the training identities,
            added to the triplet loss: ``loss = triplet + aux_weight * aux``.
        aux_weight: the auxiliary term's weight.
        aux_scale: its logit scale ``s``.
        aux_margin: its margin ``m``.
        aux_label_smoothing: its label smoothing ``eps`` (target ``(1 - eps) one_hot + eps / C``;
            0 is the plain cross-entropy).
        ema_decay: ``0`` (off) or the decay ``d`` of an exponential moving average of the
            encoder's weights and BatchNorm statistics (:class:`~coursekit.face.ModelEMA`),
            updated after every step; the returned encoder holds the average instead of the
            last weights.
        swa_fraction: stochastic weight averaging (Izmailov et al., "Averaging Weights Leads to
            Wider Optima", 2018) over this last fraction of the steps: the cosine decay reaches
            ``swa_lr`` (a fraction of ``lr``) where it begins, the learning rate then stays
            there, and the returned encoder holds the uniform average of the weights after
            each of those steps (combine with ``precise_bn``: the averaged BatchNorm
            statistics do not belong to the averaged weights); 0 (off) by default.
        swa_lr: that constant learning rate, as a fraction of ``lr``.
        aux_mix: ``None``, ``"mixup"`` (Zhang et al. 2018) or ``"cutmix"`` (Yun et al. 2019):
            the auxiliary term is computed on a second, mixed copy of the batch (each image
            blended with, or pasted into, a random other image of the batch by ``lam`` ~
            Beta(``aux_mix_alpha``, ``aux_mix_alpha``)), as ``lam aux(y) + (1 - lam) aux(y')``;
            the triplet term keeps the unmixed batch. Twice the encoder work per step.
        aux_mix_alpha: the Beta distribution's parameter.
        precise_bn: recompute the BatchNorm statistics of the returned encoder at the end
            (Wu & Johnson, "Rethinking BatchNorm", 2021): the exact average over the training
            images, ``"clean"`` as they are or ``"augmented"`` once each, in batches of
            ``P x K`` (``torch.optim.swa_utils.update_bn``); ``None`` keeps the running averages.
        spread_weight: weight of the global orthogonal regulariser (Zhang et al., "Learning
            Spread-out Local Feature Descriptors", ICCV 2017) added to the loss: over the
            batch's pairs of different people, with ``s`` the cosine of the two encodings,
            ``mean(s)^2 + max(0, mean(s^2) - 1 / E)``, the first two moments of uniformly
            spread unit vectors; 0 (off) by default.
        erase_prob: probability of random erasing (Zhong et al. 2020) for each training image
            after augmentation: a random rectangle of 2-25 % of the image (aspect 0.3-3.3) is
            filled with uniform noise.

    Example:
        >>> cfg = TrainConfig(epochs=2, people_per_batch=4, images_per_person=3)
        >>> cfg.aux_loss, cfg.strategy, cfg.embedding_dim
        ('arcface', 'batch_hard', 128)
        >>> TrainConfig(strategy="hardest")
        Traceback (most recent call last):
            ...
        ValueError: strategy must be one of ('all', 'random', 'hard', 'semihard', 'batch_hard'), got 'hardest'
    """

    epochs: int = 200
    people_per_batch: int = 10
    images_per_person: int = 6
    lr: float = 3e-3
    weight_decay: float = 1e-4
    alpha: float = 0.2
    strategy: str = "batch_hard"
    soft_margin: bool = False
    semihard_warmup: float = 0.0
    augment: bool = True
    embedding_dim: int = 128
    widths: tuple[int, ...] = (32, 64, 128, 256)
    input_size: int | None = 32
    dropout: float = 0.0
    steps_per_epoch: int | None = None
    aux_loss: str | None = "arcface"
    aux_weight: float = 1.0
    aux_scale: float = 30.0
    aux_margin: float = 0.5
    aux_label_smoothing: float = 0.3
    ema_decay: float = 0.0
    swa_fraction: float = 0.0
    swa_lr: float = 0.1
    aux_mix: str | None = None
    aux_mix_alpha: float = 0.4
    erase_prob: float = 0.0
    precise_bn: str | None = None
    spread_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.aux_loss is not None and self.aux_loss not in MARGIN_LOSSES:
            raise ValueError(f"aux_loss must be None or one of {MARGIN_LOSSES}, got {self.aux_loss!r}")
        if self.aux_weight < 0 or self.aux_scale <= 0 or self.aux_margin < 0:
            raise ValueError(f"need aux_weight >= 0, aux_scale > 0 and aux_margin >= 0 (got "
                             f"{self.aux_weight}, {self.aux_scale}, {self.aux_margin})")
        if not 0.0 <= self.aux_label_smoothing < 1.0:
            raise ValueError(f"aux_label_smoothing must lie in [0, 1), got {self.aux_label_smoothing}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must lie in [0, 1), got {self.ema_decay}")
        if not 0.0 <= self.swa_fraction < 1.0 or not 0.0 < self.swa_lr <= 1.0:
            raise ValueError(f"need 0 <= swa_fraction < 1 and 0 < swa_lr <= 1 (got {self.swa_fraction}, "
                             f"{self.swa_lr})")
        if self.swa_fraction > 0 and self.ema_decay > 0:
            raise ValueError("use ema_decay or swa_fraction, not both")
        if self.aux_mix not in (None, "mixup", "cutmix") or self.aux_mix_alpha <= 0:
            raise ValueError(f"aux_mix must be None, 'mixup' or 'cutmix' and aux_mix_alpha > 0 (got "
                             f"{self.aux_mix!r}, {self.aux_mix_alpha})")
        if self.precise_bn not in (None, "clean", "augmented"):
            raise ValueError(f"precise_bn must be None, 'clean' or 'augmented', got {self.precise_bn!r}")
        if not 0.0 <= self.semihard_warmup <= 1.0:
            raise ValueError(f"semihard_warmup must lie in [0, 1], got {self.semihard_warmup}")
        if self.spread_weight < 0:
            raise ValueError(f"spread_weight must be >= 0, got {self.spread_weight}")
        if not 0.0 <= self.erase_prob <= 1.0:
            raise ValueError(f"erase_prob must lie in [0, 1], got {self.erase_prob}")
        if self.strategy not in MINING_STRATEGIES:
            raise ValueError(f"strategy must be one of {MINING_STRATEGIES}, got {self.strategy!r}")
        if self.epochs < 1 or self.lr <= 0 or self.alpha < 0:
            raise ValueError(f"need epochs >= 1, lr > 0 and alpha >= 0 (got {self.epochs}, {self.lr}, "
                             f"{self.alpha})")
