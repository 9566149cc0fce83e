"""Verification head: features against the formulas, gradcheck, balanced pairs, learning."""

from __future__ import annotations

import pytest
import torch

from coursekit.face.verification import (
    VerificationHead,
    abs_features,
    chi2_features,
    make_pairs,
    train_verification_head,
)


def test_features_match_formulas(device, dtype, tol):
    g = torch.Generator().manual_seed(0)
    f_i = torch.randn(5, 7, generator=g, dtype=dtype).to(device)
    f_j = torch.randn(5, 7, generator=g, dtype=dtype).to(device)
    torch.testing.assert_close(abs_features(f_i, f_j), (f_i - f_j).abs(), **tol)
    ref = torch.empty_like(f_i)
    for b in range(5):
        for k in range(7):
            a, c = f_i[b, k].item(), f_j[b, k].item()
            ref[b, k] = (a - c) ** 2 / (abs(a) + abs(c) + 1e-6)
    out = chi2_features(f_i, f_j)
    torch.testing.assert_close(out, ref, **tol)
    assert out.device.type == device.type and out.dtype == dtype


def test_chi2_equals_lecture_formula_for_nonnegative():
    g = torch.Generator().manual_seed(1)
    f_i, f_j = torch.rand(4, 6, generator=g, dtype=torch.float64) + 0.1, torch.rand(
        4, 6, generator=g, dtype=torch.float64) + 0.1
    torch.testing.assert_close(chi2_features(f_i, f_j, eps=1e-300), (f_i - f_j) ** 2 / (f_i + f_j))


def test_features_properties():
    x = torch.randn(3, 4)
    assert torch.equal(chi2_features(x, x), torch.zeros(3, 4))
    assert torch.equal(abs_features(x, x), torch.zeros(3, 4))
    z = torch.zeros(2, 3)
    assert torch.isfinite(chi2_features(z, z)).all()
    y = torch.randn(3, 4)
    torch.testing.assert_close(chi2_features(x, y), chi2_features(y, x))
    assert (chi2_features(x, y) >= 0).all()


def test_gradcheck():
    g = torch.Generator().manual_seed(2)
    f_i = (torch.rand(3, 4, generator=g, dtype=torch.float64) + 0.2).requires_grad_()
    f_j = (-torch.rand(3, 4, generator=g, dtype=torch.float64) - 0.2).requires_grad_()
    assert torch.autograd.gradcheck(chi2_features, (f_i, f_j))
    assert torch.autograd.gradcheck(abs_features, (f_i, f_j))


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"\(B, E\)"):
        chi2_features(torch.zeros(3, 4), torch.zeros(3, 5))
    with pytest.raises(ValueError, match=r"\(B, E\)"):
        abs_features(torch.zeros(4), torch.zeros(4))
    with pytest.raises(ValueError, match="mode"):
        VerificationHead(4, mode="cosine")
    with pytest.raises(ValueError, match=r"\(B, 4\)"):
        VerificationHead(4)(torch.zeros(2, 5), torch.zeros(2, 5))


@pytest.mark.parametrize("mode", ["abs", "chi2"])
def test_head_is_logistic_unit(mode):
    head = VerificationHead(6, mode=mode)
    f_i, f_j = torch.randn(4, 6), torch.randn(4, 6)
    x = abs_features(f_i, f_j) if mode == "abs" else chi2_features(f_i, f_j)
    logits = head(f_i, f_j)
    torch.testing.assert_close(logits, x @ head.linear.weight[0] + head.linear.bias)
    torch.testing.assert_close(head.predict_proba(f_i, f_j), torch.sigmoid(logits))


@pytest.mark.parametrize("num_pairs", [2, 7, 100])
def test_make_pairs_balanced_and_valid(device, num_pairs):
    labels = torch.tensor([3, 3, 3, 5, 5, 9, 1], device=device)  # identities 9 and 1 have one image
    i, j, same = make_pairs(labels, num_pairs=num_pairs, generator=torch.Generator().manual_seed(0))
    assert i.shape == j.shape == same.shape == (num_pairs,)
    assert same.sum().item() == num_pairs // 2
    assert torch.equal(labels[i] == labels[j], same)
    assert bool((i != j).all())
    assert i.device.type == device.type


def test_make_pairs_covers_all_partners():
    labels = torch.tensor([0, 0, 0, 1, 2])
    i, j, same = make_pairs(labels, num_pairs=2000, generator=torch.Generator().manual_seed(0))
    same_pairs = {(a, b) for a, b, s in zip(i.tolist(), j.tolist(), same.tolist()) if s}
    assert same_pairs == {(a, b) for a in range(3) for b in range(3) if a != b}
    diff_partners = {b for a, b, s in zip(i.tolist(), j.tolist(), same.tolist()) if not s and a == 0}
    assert diff_partners == {3, 4}


def test_make_pairs_errors():
    with pytest.raises(ValueError, match="two identities"):
        make_pairs(torch.tensor([0, 1, 2]), num_pairs=4)
    with pytest.raises(ValueError, match="two identities"):
        make_pairs(torch.tensor([0, 0, 0]), num_pairs=4)
    with pytest.raises(ValueError, match="num_pairs"):
        make_pairs(torch.tensor([0, 0, 1]), num_pairs=1)


@pytest.mark.parametrize("mode", ["abs", "chi2"])
def test_head_learns_separable_encodings(mode):
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(20).repeat_interleave(5)
    centres = torch.nn.functional.normalize(torch.randn(20, 16, generator=g), dim=1)
    enc = torch.nn.functional.normalize(centres[labels] + 0.05 * torch.randn(100, 16, generator=g), dim=1)
    head = VerificationHead(16, mode=mode)
    hist = train_verification_head(head, enc, labels, steps=150, lr=0.05, batch_size=128,
                                   generator=g, device="cpu", progress=False)
    assert len(hist["loss"]) == 150 and hist["loss"][-1] < hist["loss"][0]
    i, j, same = make_pairs(labels, num_pairs=400, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        acc = ((head.predict_proba(enc[i], enc[j]) > 0.5) == same).float().mean().item()
    assert acc > 0.95
    assert not head.training


def test_train_head_bad_inputs():
    head = VerificationHead(4)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        train_verification_head(head, torch.zeros(5, 3), torch.zeros(5), steps=1, progress=False)
    with pytest.raises(ValueError, match="labels"):
        train_verification_head(head, torch.zeros(5, 4), torch.zeros(4), steps=1, progress=False)
