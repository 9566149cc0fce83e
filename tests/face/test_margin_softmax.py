"""Margin softmax losses (NormFace, CosFace, ArcFace): hand formulas, a loop reference, gradcheck
in float64, shapes, the module, and errors on bad input."""

import math

import pytest
import torch

from coursekit.face import MARGIN_LOSSES, MarginSoftmaxLoss, cosine_logits, margin_softmax_loss


def _loop(z, w, y, kind, s, m):
    """One sample at a time, angles through acos: the papers' formulas written out."""
    out = []
    for i in range(len(y)):
        logits = []
        for c in range(len(w)):
            cos = float(z[i] @ w[c] / (z[i].norm() * w[c].norm()))
            if c == int(y[i]):
                theta = math.acos(max(-1.0, min(1.0, cos)))
                if kind == "cosface":
                    cos = cos - m
                elif kind == "arcface":
                    cos = math.cos(theta + m) if theta + m <= math.pi else cos - m * math.sin(m)
            logits.append(s * cos)
        top = max(logits)
        lse = top + math.log(sum(math.exp(v - top) for v in logits))
        out.append(lse - logits[int(y[i])])
    return torch.tensor(out, dtype=torch.float64)


@pytest.mark.parametrize("kind", MARGIN_LOSSES)
@pytest.mark.parametrize("batch", [1, 5, 12])
def test_matches_the_loop(kind, batch, dtype, tol):
    g = torch.Generator().manual_seed(batch)
    z, w = torch.randn(batch, 6, generator=g, dtype=dtype), torch.randn(4, 6, generator=g, dtype=dtype)
    y = torch.randint(4, (batch,), generator=g)
    got = margin_softmax_loss(z, w, y, kind=kind, scale=8.0, margin=0.4, reduction="none")
    assert got.shape == (batch,) and got.dtype == dtype
    torch.testing.assert_close(got.double(), _loop(z.double(), w.double(), y, kind, 8.0, 0.4), **tol)
    mean = margin_softmax_loss(z, w, y, kind=kind, scale=8.0, margin=0.4)
    torch.testing.assert_close(mean, got.mean(), **tol)
    torch.testing.assert_close(margin_softmax_loss(z, w, y, kind=kind, scale=8.0, margin=0.4,
                                                   reduction="sum"), got.sum(), **tol)


def test_hand_values():
    z = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    w = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([0])
    # cos = (1, 0): cosface logits s (1 - m, 0); arcface s (cos(0 + m), 0); softmax s (1, 0).
    # ArcFace's sine is clamped at 1e-6 (a finite gradient at cos = 1): a 1e-6 relative error here
    for kind, target in [("cosface", 1 - 0.35), ("arcface", math.cos(0.35)), ("softmax", 1.0)]:
        want = math.log1p(math.exp(-10 * target))
        assert margin_softmax_loss(z, w, y, kind=kind, scale=10.0, margin=0.35).item() == pytest.approx(
            want, rel=1e-5)
    # zero margin: all three are the normalised softmax
    base = margin_softmax_loss(z, w, y, kind="softmax", scale=10.0)
    for kind in ("cosface", "arcface"):
        torch.testing.assert_close(margin_softmax_loss(z, w, y, kind=kind, scale=10.0, margin=0.0), base)


def test_arcface_continuation_past_pi():
    """theta + m > pi: the monotonic continuation cos(theta) - m sin(m), as in the loop."""
    z = torch.tensor([[-1.0, 0.05]], dtype=torch.float64)  # theta ~ pi - 0.05 to class 0
    w = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([0])
    got = margin_softmax_loss(z, w, y, kind="arcface", scale=4.0, margin=0.5, reduction="none")
    torch.testing.assert_close(got, _loop(z, w, y, "arcface", 4.0, 0.5))


def test_scale_and_direction_invariance():
    g = torch.Generator().manual_seed(0)
    z, w = torch.randn(6, 5, generator=g), torch.randn(3, 5, generator=g)
    y = torch.randint(3, (6,), generator=g)
    a = margin_softmax_loss(z, w, y)
    torch.testing.assert_close(margin_softmax_loss(3 * z, 0.1 * w, y), a)  # only angles count
    assert a > 0
    c = cosine_logits(z, w)
    assert c.shape == (6, 3) and float(c.abs().max()) <= 1 + 1e-6


@pytest.mark.parametrize("kind", MARGIN_LOSSES)
def test_gradcheck(kind):
    g = torch.Generator().manual_seed(1)
    z = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 1, 2, 1, 0])
    assert torch.autograd.gradcheck(
        lambda z, w: margin_softmax_loss(z, w, y, kind=kind, scale=5.0, margin=0.3), (z, w))


def test_module_calls_the_function(device):
    torch.manual_seed(0)
    head = MarginSoftmaxLoss(4, 6, kind="arcface", scale=16.0, margin=0.3).to(device)
    z, y = torch.randn(8, 6, device=device), torch.tensor([0, 1, 2, 3, 0, 1, 2, 3], device=device)
    loss = head(z, y)
    torch.testing.assert_close(loss, margin_softmax_loss(z, head.weights, y, kind="arcface", scale=16.0,
                                                         margin=0.3))
    loss.backward()
    assert head.weights.grad.shape == (4, 6) and loss.device.type == device.type


def test_training_the_directions_separates_classes():
    g = torch.Generator().manual_seed(0)
    z = torch.nn.functional.normalize(torch.randn(3, 4, generator=g), dim=1).repeat_interleave(4, 0)
    y = torch.arange(3).repeat_interleave(4)
    head = MarginSoftmaxLoss(3, 4)
    opt = torch.optim.Adam(head.parameters(), lr=0.1)
    first = float(head(z, y).detach())
    for _ in range(100):
        opt.zero_grad()
        loss = head(z, y)
        loss.backward()
        opt.step()
    assert float(loss.detach()) < first / 5


def test_bad_inputs():
    z, w, y = torch.randn(4, 3), torch.randn(2, 3), torch.tensor([0, 1, 0, 1])
    with pytest.raises(ValueError, match="kind"):
        margin_softmax_loss(z, w, y, kind="sphereface")
    with pytest.raises(ValueError, match="reduction"):
        margin_softmax_loss(z, w, y, reduction="max")
    with pytest.raises(ValueError, match="scale"):
        margin_softmax_loss(z, w, y, scale=0.0)
    with pytest.raises(ValueError, match=r"\(B, E\)"):
        margin_softmax_loss(z, torch.randn(2, 5), y)
    with pytest.raises(ValueError, match=r"\(B, E\)"):
        cosine_logits(z[0], w)
    with pytest.raises(ValueError, match=r"labels must be \(4,\)"):
        margin_softmax_loss(z, w, y[:3])
    with pytest.raises(ValueError, match="0..1"):
        margin_softmax_loss(z, w, torch.tensor([0, 1, 2, 0]))
    with pytest.raises(ValueError):
        MarginSoftmaxLoss(1, 4)
    with pytest.raises(ValueError, match="kind"):
        MarginSoftmaxLoss(3, 4, kind="none")



@pytest.mark.parametrize("kind", MARGIN_LOSSES)
def test_label_smoothing_matches_the_mixed_target(kind, dtype, tol):
    """(1 - eps) (-log p_y) + eps mean_c (-log p_c) on the margin logits, written out."""
    g = torch.Generator().manual_seed(3)
    z, w = torch.randn(6, 5, generator=g, dtype=dtype), torch.randn(4, 5, generator=g, dtype=dtype)
    y = torch.randint(4, (6,), generator=g)
    s, m, eps = 8.0, 0.3, 0.2
    cos = z.double() @ w.double().t() / (z.double().norm(dim=1, keepdim=True) * w.double().norm(dim=1))
    for i in range(len(y)):  # the margin on the true class, as in the loop reference
        c = float(cos[i, y[i]])
        theta = math.acos(max(-1.0, min(1.0, c)))
        if kind == "cosface":
            cos[i, y[i]] = c - m
        elif kind == "arcface":
            cos[i, y[i]] = math.cos(theta + m) if theta + m <= math.pi else c - m * math.sin(m)
    nll = -torch.log_softmax(s * cos, dim=1)  # (B, C)
    want = (1 - eps) * nll.gather(1, y[:, None])[:, 0] + eps * nll.mean(1)
    got = margin_softmax_loss(z, w, y, kind=kind, scale=s, margin=m, reduction="none", label_smoothing=eps)
    assert got.shape == (6,) and got.dtype == dtype
    torch.testing.assert_close(got.double(), want, **tol)
    unsmoothed = margin_softmax_loss(z, w, y, kind=kind, scale=s, margin=m, label_smoothing=0.0)
    torch.testing.assert_close(unsmoothed, margin_softmax_loss(z, w, y, kind=kind, scale=s, margin=m))


def test_label_smoothing_stops_rewarding_confidence():
    """Plain cross-entropy keeps falling as a correct logit grows; the smoothed one turns back up."""
    w = torch.eye(3, dtype=torch.float64)
    z, y = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64), torch.tensor([0])
    plain = [float(margin_softmax_loss(z, w, y, kind="softmax", scale=s)) for s in (4.0, 16.0, 64.0)]
    smooth = [float(margin_softmax_loss(z, w, y, kind="softmax", scale=s, label_smoothing=0.1))
              for s in (4.0, 16.0, 64.0)]
    assert plain[0] > plain[1] > plain[2]
    assert smooth[2] > smooth[1] and smooth[2] > 1.0
    head = MarginSoftmaxLoss(3, 3, kind="softmax", label_smoothing=0.1)
    want = margin_softmax_loss(z.float(), head.weights, y, kind="softmax", label_smoothing=0.1)
    torch.testing.assert_close(head(z.float(), y), want)
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="label_smoothing"):
            margin_softmax_loss(z, w, y, label_smoothing=bad)
        with pytest.raises(ValueError, match="label_smoothing"):
            MarginSoftmaxLoss(3, 3, label_smoothing=bad)


def test_labels_from_another_device():
    """CPU labels with encodings elsewhere ("meta" stands in for a GPU here): the targets are
    moved to the logits' device before torch.where and cross_entropy, which refuse mixed devices."""
    z, w = torch.randn(4, 6, device="meta"), torch.randn(3, 6, device="meta")
    labels = torch.tensor([0, 1, 2, 0])
    for kind in ("softmax", "cosface", "arcface"):
        assert margin_softmax_loss(z, w, labels, kind=kind).device.type == "meta"
