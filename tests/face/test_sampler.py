"""PKSampler: P people x K images per batch, every person once per epoch, reproducible."""

import pytest
import torch

from coursekit.face import PKSampler


def test_pk_sampler_batches():
    labels = torch.tensor([0] * 5 + [1] * 2 + [2] * 4 + [3] * 1)
    sampler = PKSampler(labels, 2, 3, generator=torch.Generator().manual_seed(0))
    batches = list(sampler)
    assert len(batches) == len(sampler) == 2
    seen = set()
    for b in batches:
        assert b.shape == (6,)
        people = labels[b].tolist()
        assert people[:3] == [people[0]] * 3 and people[3:] == [people[3]] * 3 and people[0] != people[3]
        seen |= set(people)
    assert seen == {0, 1, 2, 3}  # every person once per epoch
    again = list(PKSampler(labels, 2, 3, generator=torch.Generator().manual_seed(0)))
    assert all(torch.equal(x, y) for x, y in zip(batches, again))
    with pytest.raises(ValueError):
        PKSampler(torch.zeros(5, dtype=torch.long), 2, 2)
