"""s_norm: against a loop over the pairs and the cohort, its invariances, and bad shapes."""

import math

import pytest
import torch

from coursekit.face import all_pairs, roc_auc, s_norm


def _s_norm_loop(z, pairs, cohort):
    """The formula written out with Python loops and the statistics module's definitions."""
    import statistics

    def stats(a):
        d = [sum((float(a[k]) - float(c[k])) ** 2 for k in range(len(a))) for c in cohort]
        return statistics.mean(d), statistics.stdev(d)

    out = []
    for i, j in pairs:
        d = sum((float(z[i][k]) - float(z[j][k])) ** 2 for k in range(z.shape[1]))
        (mi, si), (mj, sj) = stats(z[i]), stats(z[j])
        out.append(0.5 * ((d - mi) / si + (d - mj) / sj))
    return out


def test_matches_the_loop(device, dtype):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(6, 4, generator=g, dtype=torch.float64)
    cohort = torch.randn(5, 4, generator=g, dtype=torch.float64)
    i, j, _ = all_pairs(torch.arange(6))
    got = s_norm(z.to(device, dtype), i.to(device), j.to(device), cohort.to(device, dtype))
    assert got.shape == (15,) and got.device.type == device.type and got.dtype == dtype
    want = torch.tensor(_s_norm_loop(z, zip(i.tolist(), j.tolist()), cohort), dtype=dtype)
    tol = 1e-12 if dtype == torch.float64 else 1e-4
    torch.testing.assert_close(got.cpu(), want, rtol=tol, atol=tol)


def test_symmetric_and_scale_invariant():
    g = torch.Generator().manual_seed(1)
    z, cohort = torch.randn(5, 3, generator=g), torch.randn(7, 3, generator=g)
    i, j, _ = all_pairs(torch.arange(5))
    s = s_norm(z, i, j, cohort)
    torch.testing.assert_close(s_norm(z, j, i, cohort), s)  # s(i, j) = s(j, i)
    torch.testing.assert_close(s_norm(3.0 * z, i, j, 3.0 * cohort), s)  # units cancel
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=g))  # a rotation of the whole space
    torch.testing.assert_close(s_norm(z @ q, i, j, cohort @ q), s, atol=1e-5, rtol=1e-5)


def test_can_reorder_pairs_that_one_threshold_gets_wrong():
    # Two people in a crowded corner of the space (same-person distance 0.2) and two in an empty
    # one (same-person distance 0.5, but 3.0 from everyone): raw distances rank the far pair of
    # different people (0.4 apart) above the second same-person pair; S-norm does not.
    z = torch.tensor([[0.0, 0.0], [0.2 ** 0.5, 0.0], [10.0, 10.0], [10.0, 10.0 + 0.5 ** 0.5],
                      [0.0, 0.4 ** 0.5]])
    labels = torch.tensor([0, 0, 1, 1, 2])
    cohort = torch.tensor([[0.5, 0.5], [-0.5, 0.5], [0.5, -0.5], [-0.6, -0.4]])
    i, j, same = all_pairs(labels)
    raw = (z[i] - z[j]).pow(2).sum(1)
    assert roc_auc(raw, same) < 1.0
    assert roc_auc(s_norm(z, i, j, cohort), same) == 1.0


def test_bad_shapes_are_refused():
    z, i = torch.randn(4, 3), torch.tensor([0, 1])
    with pytest.raises(ValueError, match="cohort"):
        s_norm(z, i, i, torch.randn(5, 2))
    with pytest.raises(ValueError, match="at least 2"):
        s_norm(z, i, i, torch.randn(1, 3))
    with pytest.raises(ValueError, match="i and j"):
        s_norm(z, i, torch.tensor([0]), torch.randn(5, 3))
    assert math.isfinite(float(s_norm(z, i, i, torch.zeros(3, 3)).sum()))  # zero spread: no inf
