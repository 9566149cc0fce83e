"""P x K batches for training with the triplet loss (lesson 4.4).

Batch-hard mining (Hermans, Beyer & Leibe, "In Defense of the Triplet Loss for Person
Re-Identification", 2017) needs every anchor to have positives and negatives in its batch:
:class:`PKSampler` draws ``P`` people and ``K`` images of each.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

__all__ = ["PKSampler"]


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
