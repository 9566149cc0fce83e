"""CompactLBFGS against torch.optim.LBFGS(max_iter=1): the same iterates, with and without a clamp."""

from __future__ import annotations

import pytest
import torch

from coursekit.style.lbfgs import CompactLBFGS


def _problem(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    Q = torch.randn(n, n, generator=g, dtype=torch.float64)
    A = Q @ Q.T / n + 0.1 * torch.eye(n, dtype=torch.float64)
    b = torch.randn(n, generator=g, dtype=torch.float64)

    def f(x):  # a convex quadratic plus a gentle quartic: curvature changes along the path
        return 0.5 * x @ A @ x - b @ x + 0.05 * (x**4).sum()

    return f, torch.rand(n, generator=g, dtype=torch.float64)


def _grad(f, x):
    x = x.detach().requires_grad_()
    f(x).backward()
    return x.grad


def _torch_path(f, x0, steps, m, lr, clamp):
    x = x0.clone().requires_grad_()
    opt = torch.optim.LBFGS([x], lr=lr, max_iter=1, history_size=m)
    path = []
    for _ in range(steps):
        before = x.detach().clone()

        def closure():
            opt.zero_grad()
            loss = f(x)
            loss.backward()
            return loss

        opt.step(closure)
        if clamp:
            with torch.no_grad():
                x.clamp_(0, 1)
            state = opt.state[x]
            state["d"], state["t"] = (x.detach() - before).flatten(), 1.0  # the step really taken
        path.append(x.detach().clone())
    return torch.stack(path)


def _compact_path(f, x0, steps, m, lr, clamp):
    x = x0.clone()
    opt = CompactLBFGS(x, lr=lr, history_size=m)
    path = []
    for _ in range(steps):
        opt.step(_grad(f, x))
        if clamp:
            x.clamp_(0, 1)
        path.append(x.clone())
    return torch.stack(path)


class TestCompactLBFGS:
    @pytest.mark.parametrize("m", [1, 3, 100])
    @pytest.mark.parametrize("clamp", [False, True])
    def test_same_iterates_as_torch_lbfgs(self, m, clamp):
        f, x0 = _problem(12, seed=m)
        ref = _torch_path(f, x0, 25, m, 0.8, clamp)
        got = _compact_path(f, x0, 25, m, 0.8, clamp)
        torch.testing.assert_close(got, ref, rtol=1e-8, atol=1e-10)

    def test_float32_agrees_with_torch_lbfgs_in_float32(self):
        f64, x0 = _problem(30, seed=1)

        def f(x):
            return f64(x.double()).float()

        ref = _torch_path(f, x0.float(), 12, 10, 1.0, True)
        got = _compact_path(f, x0.float(), 12, 10, 1.0, True)
        torch.testing.assert_close(got, ref, rtol=0, atol=1e-4)

    def test_step_follows_the_device(self, device):
        x = torch.rand(5, device=device)
        opt = CompactLBFGS(x, history_size=3)
        for _ in range(3):
            opt.step(2 * (x - 0.5))
        assert x.device.type == device.type and opt.S.device.type == device.type
        torch.testing.assert_close(x, torch.full_like(x, 0.5), rtol=0, atol=1e-5)

    @pytest.mark.parametrize("kwargs, match", [
        ({"lr": float("nan")}, "lr"), ({"lr": 0}, "lr"), ({"history_size": 0}, "history_size"),
        ({"history_size": True}, "history_size"),
    ])
    def test_bad_options(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            CompactLBFGS(torch.zeros(3), **kwargs)

    def test_bad_shapes(self):
        with pytest.raises(ValueError, match="flat"):
            CompactLBFGS(torch.zeros(2, 2))
        with pytest.raises(ValueError, match="shape"):
            CompactLBFGS(torch.zeros(3)).step(torch.zeros(4))

    def test_state_holds_as_many_vectors_as_torch_lbfgs(self):
        """Memory by construction: after k steps torch.optim.LBFGS holds k - 1 pairs (s, y), its
        direction and its previous gradient; CompactLBFGS sized for those k - 1 pairs holds as
        many (N,) vectors (its pairs, the previous x and gradient), plus (m, m) float64 tables."""
        n, steps = 500, 9
        f, x0 = _problem(n, seed=2)

        def vectors(tensors):  # the state's tensors of N elements or more, in units of (N,)
            return sum(t.numel() // n for t in tensors if isinstance(t, torch.Tensor) and t.numel() >= n)

        x = x0.clone().requires_grad_()
        ref = torch.optim.LBFGS([x], lr=1.0, max_iter=1, history_size=100)
        for _ in range(steps):
            def closure():
                ref.zero_grad()
                loss = f(x)
                loss.backward()
                return loss
            ref.step(closure)
        state = ref.state[x]
        ref_vectors = vectors([*state["old_dirs"], *state["old_stps"], state["d"],
                               state["prev_flat_grad"]])

        opt = CompactLBFGS(x0.clone(), history_size=steps - 1)  # lbfgs_steps' size for `steps`
        mine = vectors(t for t in vars(opt).values() if isinstance(t, torch.Tensor) and t is not opt.x)
        assert ref_vectors == mine == 2 * (steps - 1) + 2
        tables = sum(t.numel() for t in (opt.SY, opt.YY))
        assert tables == 2 * (steps - 1) ** 2 < n  # under one vector here; (m, m) for any N
