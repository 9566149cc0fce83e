"""lbfgs_steps: the steps of torch.optim.LBFGS with the clamp, with or without a CUDA graph."""

from __future__ import annotations

import pytest
import torch

from coursekit.style.graphed import lbfgs_steps

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")


def _cost(device, dtype=torch.float64):
    g = torch.Generator().manual_seed(0)
    target = (1.4 * torch.rand(1, 3, 6, 5, generator=g, dtype=dtype) - 0.2).to(device)
    w = torch.rand(1, 3, 6, 5, generator=g, dtype=dtype).to(device) + 0.5

    def cost(G):  # a weighted quadratic plus a coupling term, with some targets outside [0, 1]
        r = G - target
        J = (w * r**2).sum() + 0.3 * (r[..., 1:] * r[..., :-1]).sum() + 0.05 * (r**4).sum()
        return J, torch.stack([J.detach(), r.detach().abs().max()])

    return cost


def _torch_lbfgs(cost, G, steps):
    opt = torch.optim.LBFGS([G], lr=1.0, max_iter=1)
    rows = []
    for _ in range(steps):
        before = G.detach().clone()
        out: dict = {}

        def closure(out=out):
            opt.zero_grad()
            J, terms = cost(G)
            out["terms"] = terms
            J.backward()
            return J

        opt.step(closure)
        with torch.no_grad():
            G.clamp_(0, 1)
        state = opt.state[G]
        if "d" in state:
            state["d"], state["t"] = (G.detach() - before).flatten(), 1.0
        rows.append(out["terms"])
    return torch.stack(rows)


class TestLbfgsSteps:
    def test_same_as_torch_lbfgs_with_the_clamp(self):
        cost = _cost("cpu")
        G0 = torch.full((1, 3, 6, 5), 0.5, dtype=torch.float64)
        ref_G = G0.clone().requires_grad_()
        ref = _torch_lbfgs(cost, ref_G, 15)
        G = G0.clone().requires_grad_()
        steps_seen = []
        got = lbfgs_steps(cost, G, num_steps=15, after_step=steps_seen.append)
        torch.testing.assert_close(got, ref, rtol=1e-8, atol=1e-10)
        torch.testing.assert_close(G, ref_G, rtol=1e-8, atol=1e-10)
        assert steps_seen == list(range(1, 16))
        assert float(G.detach().min()) >= 0 and float(G.detach().max()) <= 1

    @CUDA
    def test_cuda_graph_gives_the_steps_of_the_eager_loop(self):
        cost = _cost("cuda", torch.float32)
        G0 = torch.full((1, 3, 6, 5), 0.5, device="cuda")
        eager_G, graph_G = G0.clone().requires_grad_(), G0.clone().requires_grad_()
        eager = lbfgs_steps(cost, eager_G, num_steps=20, cuda_graph=False)
        graph = lbfgs_steps(cost, graph_G, num_steps=20, cuda_graph=True)
        torch.testing.assert_close(graph, eager, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(graph_G, eager_G, rtol=1e-5, atol=1e-6)

    def test_bad_inputs(self):
        cost = _cost("cpu")
        with pytest.raises(ValueError, match="requires_grad"):
            lbfgs_steps(cost, torch.zeros(1, 3, 6, 5), num_steps=2)
        with pytest.raises(ValueError, match="num_steps"):
            lbfgs_steps(cost, torch.zeros(1, 3, 6, 5, requires_grad=True), num_steps=0)
