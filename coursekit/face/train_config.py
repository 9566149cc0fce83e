"""The settings of one face-encoder training run (:func:`~coursekit.face.train_encoder`, lessons
4.3-4.4): one frozen dataclass, validated when built. The defaults are the course's from-scratch
recipe for Olivetti; ``benchmarks/RESULTS_face.md`` has its measurements and those of the
variants that were tried and dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from coursekit.face.margin_softmax import MARGIN_LOSSES
from coursekit.face.miners import MINING_STRATEGIES

__all__ = ["TrainConfig"]


@dataclass(frozen=True)
class TrainConfig:
    """One training run's settings.

    The defaults are the course's from-scratch recipe for Olivetti: P x K batches of 10 people x
    6 augmented photos, an encoder of widths (32, 64, 128, 256) on 32 x 32 faces, AdamW with a
    short warm-up and a cosine decay, and the batch-hard triplet loss plus an auxiliary ArcFace
    loss over the training identities (``aux_loss=None`` trains with the triplet loss alone, the
    lecture's objective).

    Attributes:
        epochs: passes over the people (each epoch: ``num_people // people_per_batch`` steps).
        people_per_batch: ``P`` people in each batch.
        images_per_person: ``K`` images of each person in each batch.
        lr: AdamW learning rate (cosine decay to 0 after a short warm-up).
        weight_decay: AdamW weight decay.
        alpha: the triplet margin.
        strategy: ``"batch_hard"`` (batch-hard loss, mean over anchors), or a
            :func:`~coursekit.face.mine_triplets` strategy whose triplets feed
            :func:`~coursekit.face.triplet_loss` (mean over the mined triplets).
        augment: apply :func:`~coursekit.face.augment_faces` to each batch.
        embedding_dim: ``E``, used when ``train_encoder`` builds the encoder.
        widths: conv widths of the encoder it builds.
        input_size: that encoder's ``input_size`` (images resized to this side first; ``None``
            keeps the images' own size).
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

    def __post_init__(self) -> None:
        if self.aux_loss is not None and self.aux_loss not in MARGIN_LOSSES:
            raise ValueError(f"aux_loss must be None or one of {MARGIN_LOSSES}, got {self.aux_loss!r}")
        if self.aux_weight < 0 or self.aux_scale <= 0 or self.aux_margin < 0:
            raise ValueError(f"need aux_weight >= 0, aux_scale > 0 and aux_margin >= 0 (got "
                             f"{self.aux_weight}, {self.aux_scale}, {self.aux_margin})")
        if not 0.0 <= self.aux_label_smoothing < 1.0:
            raise ValueError(f"aux_label_smoothing must lie in [0, 1), got {self.aux_label_smoothing}")
        if self.strategy not in MINING_STRATEGIES:
            raise ValueError(f"strategy must be one of {MINING_STRATEGIES}, got {self.strategy!r}")
        if self.epochs < 1 or self.lr <= 0 or self.alpha < 0:
            raise ValueError(f"need epochs >= 1, lr > 0 and alpha >= 0 (got {self.epochs}, {self.lr}, "
                             f"{self.alpha})")
