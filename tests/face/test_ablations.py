"""The ablation helpers of face training (``coursekit.face._ablations``) against hand
computations: random erasing, mixup/CutMix and the spread-out regulariser."""

import pytest
import torch


def test_random_erase_fills_one_rectangle_or_nothing():
    from coursekit.face._ablations import _random_box, _random_erase

    x = torch.full((6, 1, 20, 30), 0.5)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(_random_erase(x, 0.0, g), x)
    out = _random_erase(x, 1.0, g)
    for img in out:
        rows, cols = (img[0] != 0.5).nonzero(as_tuple=True)
        assert len(rows) > 0 and rows.max() - rows.min() + 1 <= 20
        # every changed pixel lies inside the bounding box of the changed pixels, and that box
        # is (almost) all changed: one rectangle
        box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        assert len(rows) >= 0.95 * box
    masks = _random_box(500, 40, 40, torch.full((500,), 0.1), torch.ones(500), g)
    assert masks.shape == (500, 1, 40, 40)
    assert masks.float().mean().item() == pytest.approx(0.1, abs=0.01)


def test_mixup_and_cutmix_by_hand():
    from coursekit.face._ablations import _mix

    x = torch.rand(5, 1, 8, 8)
    torch.manual_seed(0)
    mixed, perm, lam = _mix(x, "mixup", 0.4, torch.Generator().manual_seed(0))
    assert 0.0 <= lam <= 1.0 and sorted(perm.tolist()) == list(range(5))
    torch.testing.assert_close(mixed, lam * x + (1 - lam) * x[perm])
    mixed, perm, lam = _mix(x, "cutmix", 1.0, torch.Generator().manual_seed(0))
    moved = perm != torch.arange(5)  # (an image mixed with itself is unchanged)
    from_self = (mixed == x)[moved].float().mean().item()
    assert moved.any() and from_self == pytest.approx(lam, abs=0.05)  # lam is the share of each image kept
    assert ((mixed == x) | (mixed == x[perm])).all()


def test_spread_out_regulariser_by_hand():
    from coursekit.face._ablations import _spread_out

    eye = torch.eye(4)  # orthogonal encodings of four people: mean 0, second moment 0 <= 1/E
    assert _spread_out(eye, torch.arange(4)).item() == 0.0
    same = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # one negative pair at s = 1, two at 0
    labels = torch.tensor([0, 1, 1])
    # negative pairs (ordered): (0,1) s=1, (0,2) s=0 and their mirrors: mean 1/2, mean of s^2 1/2
    assert _spread_out(same, labels).item() == pytest.approx(0.25 + (0.5 - 0.5))
    assert _spread_out(torch.ones(3, 2), torch.zeros(3, dtype=torch.long)).item() == 0.0  # no negatives
