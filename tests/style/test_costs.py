"""Content, Gram, style, total-variation and total costs against hand-written loops."""

import pytest
import torch

from coursekit.style.costs import (
    GramTarget,
    content_cost,
    gram_matrix,
    gram_target,
    layer_style_cost,
    style_cost,
    total_cost,
    total_variation,
)


def _rand(*shape, dtype=torch.float64, device="cpu", seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype).to(device)


def _gram_loop(a):
    """a (C, H, W) -> (C, C), the lecture's double sum written out."""
    c, h, w = a.shape
    g = torch.zeros(c, c, dtype=a.dtype)
    for k in range(c):
        for kk in range(c):
            for i in range(h):
                for j in range(w):
                    g[k, kk] += a[k, i, j] * a[kk, i, j]
    return g


def _layer_style_loop(a_S, a_G):
    c, h, w = a_S.shape
    gs, gg = _gram_loop(a_S), _gram_loop(a_G)
    total = 0.0
    for k in range(c):
        for kk in range(c):
            total += (gs[k, kk] - gg[k, kk]) ** 2
    return float(total / (2 * h * w * c) ** 2)


@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 3, 4, 5)])
def test_content_cost_both_normalisations(shape, dtype, tol, device):
    a_C, a_G = _rand(*shape, dtype=dtype, device=device), _rand(*shape, dtype=dtype, device=device, seed=1)
    flat_C, flat_G = a_C.cpu().flatten().tolist(), a_G.cpu().flatten().tolist()
    sq = sum((x - y) ** 2 for x, y in zip(flat_C, flat_G))
    c, h, w = shape[-3:]
    lecture = content_cost(a_C, a_G)
    assignment = content_cost(a_C, a_G, normalization="assignment")
    assert lecture.device.type == device.type and lecture.dtype == dtype and lecture.ndim == 0
    torch.testing.assert_close(lecture.cpu(), torch.tensor(0.5 * sq, dtype=dtype), **tol)
    torch.testing.assert_close(assignment.cpu(), torch.tensor(sq / (4 * h * w * c), dtype=dtype), **tol)
    assert content_cost(a_C, a_C).item() == 0.0


def test_content_cost_bad_inputs():
    with pytest.raises(ValueError, match=r"\(1, 2, 3\).*\(1, 2, 4\)"):
        content_cost(torch.zeros(1, 2, 3), torch.zeros(1, 2, 4))
    with pytest.raises(ValueError, match="normalization"):
        content_cost(torch.zeros(1, 2, 3), torch.zeros(1, 2, 3), normalization="paper")
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        content_cost(torch.zeros(6), torch.zeros(6))
    with pytest.raises(TypeError):
        content_cost([[[0.0]]], torch.zeros(1, 1, 1))


def test_gram_matrix_against_loop(dtype, tol, device):
    a = _rand(2, 3, 4, 5, dtype=dtype, device=device)
    g = gram_matrix(a)
    assert g.shape == (2, 3, 3) and g.device.type == device.type
    for b in range(2):
        torch.testing.assert_close(g[b].cpu(), _gram_loop(a[b].cpu()), **tol)
    torch.testing.assert_close(gram_matrix(a[0]), g[0], **tol)  # (C, H, W) -> (C, C)
    torch.testing.assert_close(gram_matrix(a[0].reshape(3, 20)), g[0], **tol)  # unrolled (C, H*W)


def test_gram_matrix_symmetric_psd():
    g = gram_matrix(_rand(4, 8, 3, 3))
    torch.testing.assert_close(g, g.transpose(-1, -2))
    assert (torch.linalg.eigvalsh(g) > -1e-9).all()
    assert (torch.diagonal(g, dim1=-2, dim2=-1) >= 0).all()
    with pytest.raises(ValueError, match="got shape"):
        gram_matrix(torch.zeros(5))


def test_layer_style_cost_against_loop(dtype, tol, device):
    a_S, a_G = _rand(3, 4, 5, dtype=dtype, device=device), _rand(3, 4, 5, dtype=dtype, device=device, seed=1)
    expected = torch.tensor(_layer_style_loop(a_S.cpu(), a_G.cpu()), dtype=dtype)
    torch.testing.assert_close(layer_style_cost(a_S, a_G).cpu(), expected, **tol)
    torch.testing.assert_close(layer_style_cost(a_S[None], a_G[None]).cpu(), expected, **tol)
    torch.testing.assert_close(layer_style_cost(gram_target(a_S), a_G).cpu(), expected, **tol)


def test_layer_style_cost_factor():
    # G_S = [[4]] from a_S = 2 on a 1x1 map, G_G = 0: (4 - 0)^2 / (2*1*1*1)^2 = 4
    assert layer_style_cost(torch.full((1, 1, 1), 2.0), torch.zeros(1, 1, 1)).item() == 4.0
    # n_H n_W n_C = 2*3*4 = 24 enters squared: 1/(2*24)^2
    a_S, a_G = torch.ones(4, 2, 3), torch.zeros(4, 2, 3)  # G_S = 6 everywhere (16 entries)
    assert layer_style_cost(a_S, a_G).item() == pytest.approx(16 * 36 / 48**2)


def test_layer_style_cost_batch_and_sizes():
    a_S, a_G = _rand(1, 3, 4, 4), _rand(2, 3, 4, 4, seed=1)
    per_image = sum(layer_style_cost(a_S[0], a_G[b]) for b in range(2))
    torch.testing.assert_close(layer_style_cost(a_S, a_G), per_image)  # style broadcast over the batch
    # a style image of another size is compared through Grams normalised by its own n_H n_W
    big = a_S.repeat(1, 1, 2, 2)  # the same statistics on a 8x8 map
    torch.testing.assert_close(layer_style_cost(big, a_S), torch.tensor(0.0, dtype=a_S.dtype))
    with pytest.raises(ValueError, match="channels"):
        layer_style_cost(_rand(4, 4, 4), _rand(3, 4, 4))
    with pytest.raises(ValueError, match="batch"):
        layer_style_cost(_rand(2, 3, 4, 4), _rand(3, 3, 4, 4))
    with pytest.raises(ValueError, match="batch"):
        layer_style_cost(_rand(2, 3, 4, 4), _rand(3, 4, 4))


def test_style_cost_weighted_sum():
    S = {"a": _rand(1, 2, 3, 3), "b": _rand(1, 4, 2, 2, seed=2), "unused": _rand(1, 1, 1, 1)}
    G = {"a": _rand(1, 2, 3, 3, seed=3), "b": _rand(1, 4, 2, 2, seed=4)}
    weights = {"a": 0.3, "b": 0.7}
    expected = 0.3 * _layer_style_loop(S["a"][0], G["a"][0]) + 0.7 * _layer_style_loop(S["b"][0], G["b"][0])
    torch.testing.assert_close(style_cost(S, G, weights), torch.tensor(expected, dtype=torch.float64))
    targets = {k: gram_target(v) for k, v in S.items()}
    assert isinstance(targets["a"], GramTarget) and targets["a"].positions == 9
    torch.testing.assert_close(style_cost(targets, G, weights), style_cost(S, G, weights))
    with pytest.raises(ValueError, match="empty"):
        style_cost(S, G, {})
    with pytest.raises(ValueError, match="'c'.*features_S"):
        style_cost(S, G, {"c": 1.0})
    with pytest.raises(ValueError, match="'unused'.*features_G"):
        style_cost(S, G, {"unused": 1.0})


def test_total_variation_against_loop(dtype, tol, device):
    x = _rand(2, 3, 4, 5, dtype=dtype, device=device)
    xc = x.cpu()
    expected = 0.0
    for b in range(2):
        for c in range(3):
            for i in range(4):
                for j in range(5):
                    if i + 1 < 4:
                        expected += abs(xc[b, c, i + 1, j] - xc[b, c, i, j])
                    if j + 1 < 5:
                        expected += abs(xc[b, c, i, j + 1] - xc[b, c, i, j])
    torch.testing.assert_close(total_variation(x).cpu(), torch.tensor(float(expected), dtype=dtype), **tol)
    pairs = 2 * 3 * (3 * 5 + 4 * 4)
    torch.testing.assert_close(total_variation(x, reduction="mean").cpu(),
                               torch.tensor(float(expected) / pairs, dtype=dtype), **tol)
    assert total_variation(torch.ones(3, 4, 4)).item() == 0.0
    with pytest.raises(ValueError, match="reduction"):
        total_variation(x, reduction="max")


def test_total_cost():
    assert total_cost(1.0, 2.0) == 10 * 1.0 + 40 * 2.0
    assert total_cost(torch.tensor(1.0), torch.tensor(2.0), alpha=1, beta=0.5).item() == 2.0


def test_gradcheck_float64():
    a_C, a_G = _rand(2, 3, 3), _rand(2, 3, 3, seed=1).requires_grad_()
    a_S = _rand(1, 2, 3, 3, seed=2)
    checks = [
        lambda g: content_cost(a_C, g),
        lambda g: content_cost(a_C, g, normalization="assignment"),
        lambda g: gram_matrix(g),
        lambda g: layer_style_cost(a_S[0], g),
        lambda g: layer_style_cost(a_S[0], g, normalization="relative"),
        lambda g: content_cost(a_C, g, normalization="relative"),
        lambda g: style_cost({"l": gram_target(a_S)}, {"l": g[None]}, {"l": 2.0}),
        lambda g: total_variation(g),
    ]
    for fn in checks:
        assert torch.autograd.gradcheck(fn, (a_G,))


@pytest.mark.parametrize("channels_last", [False, True])
def test_layer_style_cost_gradient_matches_autograd(channels_last):
    """The hand-written backward equals autograd through the formula, in either memory layout."""
    g = torch.Generator().manual_seed(5)
    a_S = torch.rand(1, 6, 5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    a_G = torch.rand(2, 6, 3, 4, generator=g, dtype=torch.float64)
    if channels_last:
        a_G = a_G.contiguous(memory_format=torch.channels_last)
    a_G.requires_grad_()
    cost = layer_style_cost(a_S, a_G)
    diff = gram_matrix(a_S) / 20 - gram_matrix(a_G) / 12
    expected = diff.pow(2).sum() / (4 * 6**2)
    torch.testing.assert_close(cost, expected)
    got = torch.autograd.grad(cost, (a_S, a_G))
    want = torch.autograd.grad(expected, (a_S, a_G))
    for x, y in zip(got, want):
        torch.testing.assert_close(x, y)
    assert got[1].is_contiguous(memory_format=torch.channels_last) == channels_last
    assert torch.autograd.gradcheck(layer_style_cost, (a_S, a_G))


@pytest.mark.parametrize("normalization", ["lecture", "assignment", "relative"])
def test_content_cost_gradient_in_both_inputs(normalization):
    a_C = _rand(2, 3, 4, seed=3).requires_grad_()
    a_G = _rand(2, 3, 4, seed=4).requires_grad_()
    assert torch.autograd.gradcheck(lambda c, g: content_cost(c, g, normalization=normalization), (a_C, a_G))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_reduced_precision_activations_accumulate_in_float32(dtype):
    """bfloat16/float16 activations (``TransferConfig(precision=...)``): the Gram matrix and both
    costs are the float32 values of the same numbers, and gradients come back in the input dtype."""
    g = torch.Generator().manual_seed(7)
    a_S = torch.rand(1, 8, 6, 5, generator=g)
    a = torch.rand(1, 8, 6, 5, generator=g).to(dtype).contiguous(memory_format=torch.channels_last)
    a32 = a.float()
    gm = gram_matrix(a)
    assert gm.dtype == torch.float32
    torch.testing.assert_close(gm, gram_matrix(a32))
    target = gram_target(a_S)
    a.requires_grad_()
    a32.requires_grad_()
    for low, full in ((layer_style_cost(target, a), layer_style_cost(target, a32)),
                      (content_cost(a_S.to(dtype), a), content_cost(a_S.to(dtype).float(), a32))):
        assert low.dtype == torch.float32
        torch.testing.assert_close(low, full)
        (g_low,) = torch.autograd.grad(low, a)
        (g_full,) = torch.autograd.grad(full, a32)
        assert g_low.dtype == dtype
        torch.testing.assert_close(g_low, g_full.to(dtype))


def test_relative_costs_are_the_lecture_costs_over_their_value_at_zero():
    """relative = lecture(x, a_G) / lecture(x, 0), per image of the batch."""
    a_C, a_G = _rand(2, 3, 4, 5, seed=8), _rand(2, 3, 4, 5, seed=9)
    per_image = [content_cost(a_C[i], a_G[i]) / content_cost(a_C[i], torch.zeros_like(a_C[i]))
                 for i in range(2)]
    torch.testing.assert_close(content_cost(a_C, a_G, normalization="relative"), sum(per_image))
    a_S = _rand(1, 3, 6, 6, seed=10)
    expected = sum(layer_style_cost(a_S, a_G[i:i + 1]) / layer_style_cost(a_S, torch.zeros_like(a_G[i:i + 1]))
                   for i in range(2))
    torch.testing.assert_close(layer_style_cost(a_S, a_G, normalization="relative"), expected)


def test_relative_costs_do_not_depend_on_size_or_scale():
    """An image twice as large (each value repeated 2 x 2) and activations ten times larger give
    the same relative costs; the lecture's content cost grows with the area."""
    a_C, a_G, a_S = _rand(1, 3, 4, 5, seed=11), _rand(1, 3, 4, 5, seed=12), _rand(1, 3, 4, 5, seed=13)
    up = lambda x: x.repeat_interleave(2, -1).repeat_interleave(2, -2)  # noqa: E731
    content = lambda c, g: content_cost(c, g, normalization="relative")  # noqa: E731
    style = lambda s, g: layer_style_cost(s, g, normalization="relative")  # noqa: E731
    for cost, target in ((content, a_C), (style, a_S)):
        ref = cost(target, a_G)
        torch.testing.assert_close(cost(up(target), up(a_G)), ref)
        torch.testing.assert_close(cost(10 * target, 10 * a_G), ref)
    assert content_cost(up(a_C), up(a_G)) == pytest.approx(4 * content_cost(a_C, a_G).item())


def test_layer_style_cost_formula_and_fast_path_agree():
    """Without gradients the cost is the formula itself; with them, _GramCost: same value."""
    a_S, a_G = _rand(1, 4, 5, 6, seed=14), _rand(2, 4, 3, 5, seed=15)
    for normalization in ("lecture", "relative"):
        plain = layer_style_cost(a_S, a_G, normalization=normalization)
        fast = layer_style_cost(a_S, a_G.clone().requires_grad_(), normalization=normalization)
        torch.testing.assert_close(plain, fast.detach())


def test_unknown_normalization():
    with pytest.raises(ValueError, match="normalization"):
        content_cost(torch.ones(1, 2, 2), torch.ones(1, 2, 2), normalization="paper")
    with pytest.raises(ValueError, match="normalization"):
        layer_style_cost(torch.ones(1, 2, 2), torch.ones(1, 2, 2), normalization="assignment")
