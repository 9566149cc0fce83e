"""pairwise_distances against a brute-force loop, symmetry, zero diagonal, safe gradients."""

import pytest
import torch

from coursekit.face import check_labels, label_masks, pairwise_distances


def _naive(x, y, squared=True):
    out = torch.empty(len(x), len(y), dtype=x.dtype)
    for i in range(len(x)):
        for j in range(len(y)):
            d = ((x[i] - y[j]) ** 2).sum()
            out[i, j] = d if squared else d.sqrt()
    return out


@pytest.mark.parametrize("squared", [True, False])
@pytest.mark.parametrize("n, m", [(1, 1), (5, 3), (8, 8)])
def test_matches_loop(n, m, squared, dtype, device):
    g = torch.Generator().manual_seed(n * 10 + m)
    x, y = torch.randn(n, 4, generator=g, dtype=dtype), torch.randn(m, 4, generator=g, dtype=dtype)
    got = pairwise_distances(x.to(device), y.to(device), squared=squared)
    assert got.device.type == device.type and got.shape == (n, m)
    torch.testing.assert_close(got.cpu(), _naive(x, y, squared), rtol=1e-4, atol=1e-4)


def test_self_distances_symmetric_zero_diagonal(dtype):
    x = torch.randn(16, 8, dtype=dtype) * 100  # large values: the expansion cancels badly
    d = pairwise_distances(x)
    assert torch.equal(d.diagonal(), torch.zeros(16, dtype=dtype))
    assert bool((d >= 0).all())
    torch.testing.assert_close(d, d.T)


def test_duplicates_are_zero_and_not_negative():
    x = torch.tensor([[0.1, 0.2, 0.3]] * 4) * 1e3
    d = pairwise_distances(x, x.clone())
    assert bool((d >= 0).all())


@pytest.mark.parametrize("squared", [True, False])
def test_gradcheck(squared):
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    y = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: pairwise_distances(a, b, squared=squared), (x, y))
    assert torch.autograd.gradcheck(lambda a: pairwise_distances(a, squared=squared), (x,))


def test_sqrt_gradient_finite_at_zero():
    x = torch.tensor([[1.0, 2.0], [1.0, 2.0], [0.0, 0.0]], requires_grad=True)
    pairwise_distances(x, squared=False).sum().backward()
    assert bool(torch.isfinite(x.grad).all())


@pytest.mark.parametrize("x, y", [(torch.zeros(3), None), (torch.zeros(2, 3), torch.zeros(2, 4)),
                                  (torch.zeros(2, 3), torch.zeros(2, 3, 1))])
def test_bad_shapes(x, y):
    with pytest.raises(ValueError, match=r"\("):
        pairwise_distances(x, y)


def test_label_masks_match_a_loop():
    labels = torch.tensor([3, 1, 3, 2, 1, 3])
    pos, neg = label_masks(labels)
    for i in range(6):
        for j in range(6):
            assert bool(pos[i, j]) == (i != j and labels[i] == labels[j])
            assert bool(neg[i, j]) == bool(labels[i] != labels[j])
    assert label_masks(torch.zeros(0, dtype=torch.long))[0].shape == (0, 0)


def test_check_labels_errors():
    with pytest.raises(ValueError, match=r"\(4,\)"):
        check_labels(torch.zeros(4, 2), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="integers"):
        check_labels(torch.zeros(2, 2), torch.tensor([True, False]))
    with pytest.raises(ValueError, match=r"\(B,\)"):
        label_masks(torch.zeros(2, 2, dtype=torch.long))
