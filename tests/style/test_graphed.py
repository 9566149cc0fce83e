"""lbfgs_steps: the steps of torch.optim.LBFGS with the clamp, with or without a CUDA graph.

On the CPU the graph path runs with an emulated graph (tests/style/conftest.py's
``EmulatedGraph``: recording runs nothing, a replay runs the recorded step), so its control flow,
its report and the fallback are tested here; what a real capture adds is that the recorded step
must not read anything back to the host, checked here on the operations the step dispatches.
"""

from __future__ import annotations

import collections
import contextlib

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from coursekit.style import TransferConfig, TransferObjective
from coursekit.style.graphed import StepsReport, lbfgs_steps
from coursekit.style.lbfgs import CompactLBFGS

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
        got, report = lbfgs_steps(cost, G, num_steps=15, after_step=steps_seen.append)
        assert (report.path, report.reason, report.eager_steps, report.replays) == (
            "eager", "no CUDA graphs on cpu", 15, 0)
        torch.testing.assert_close(got, ref, rtol=1e-8, atol=1e-10)
        torch.testing.assert_close(G, ref_G, rtol=1e-8, atol=1e-10)
        assert steps_seen == list(range(1, 16))
        assert float(G.detach().min()) >= 0 and float(G.detach().max()) <= 1

    @CUDA
    def test_cuda_graph_gives_the_steps_of_the_eager_loop(self):
        cost = _cost("cuda", torch.float32)
        G0 = torch.full((1, 3, 6, 5), 0.5, device="cuda")
        eager_G, graph_G = G0.clone().requires_grad_(), G0.clone().requires_grad_()
        eager, eager_report = lbfgs_steps(cost, eager_G, num_steps=20, cuda_graph=False)
        graph, report = lbfgs_steps(cost, graph_G, num_steps=20, cuda_graph=True)
        assert eager_report.path == "eager"
        # the graph was recorded and replayed, not silently skipped
        assert (report.path, report.reason, report.eager_steps, report.replays) == (
            "cuda_graph", "", 2, 18), report.summary()
        assert report.replay_s > 0 and report.capture_s > 0
        assert set(report.memory) == {"start", "warmup", "capture", "end"}
        torch.testing.assert_close(graph, eager, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(graph_G, eager_G, rtol=1e-5, atol=1e-6)

    @CUDA
    def test_cuda_graph_records_the_transfer_step(self, net):
        """The real objective (VGG19, the relative costs) records, on CUDA, without a fallback."""
        import copy

        net = copy.deepcopy(net).to("cuda")
        C, S = torch.rand(3, 32, 32, device="cuda"), torch.rand(3, 32, 32, device="cuda")
        objective = TransferObjective(net, C, [S], TransferConfig(size=32), (32, 32))
        G = C[None].clone().requires_grad_()
        terms, report = lbfgs_steps(objective.with_terms, G, num_steps=8)
        assert report.path == "cuda_graph", report.summary()
        assert terms.shape == (8, 4) and torch.isfinite(terms[:, 1:]).all()

    @CUDA
    def test_cuda_recording_failure_falls_back_and_says_why(self):
        """A step that reads a value back (here ``.item()``) cannot be recorded: the steps go on
        one by one, the report and a warning say why, and the caller's stream is current again."""
        base = _cost("cuda", torch.float32)

        def cost(G):
            J, terms = base(G)
            if J.item() < 0:  # a host read
                raise AssertionError("J is a sum of squares")
            return J, terms

        G0 = torch.full((1, 3, 6, 5), 0.5, device="cuda")
        eager_G, G = G0.clone().requires_grad_(), G0.clone().requires_grad_()
        eager, _ = lbfgs_steps(cost, eager_G, num_steps=8, cuda_graph=False)
        stream = torch.cuda.current_stream()
        with pytest.warns(RuntimeWarning, match="could not record a CUDA graph"):
            terms, report = lbfgs_steps(cost, G, num_steps=8)
        assert torch.cuda.current_stream() == stream
        assert (report.path, report.eager_steps, report.replays) == ("eager", 8, 0)
        assert report.reason.startswith("recording failed: "), report.reason
        torch.testing.assert_close(terms, eager, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(G, eager_G, rtol=1e-5, atol=1e-6)

    def test_bad_inputs(self):
        cost = _cost("cpu")
        with pytest.raises(ValueError, match="requires_grad"):
            lbfgs_steps(cost, torch.zeros(1, 3, 6, 5), num_steps=2)
        with pytest.raises(ValueError, match="num_steps"):
            lbfgs_steps(cost, torch.zeros(1, 3, 6, 5, requires_grad=True), num_steps=0)
        with pytest.raises(ValueError, match="warmup"):
            lbfgs_steps(cost, torch.zeros(1, 3, 6, 5, requires_grad=True), num_steps=5, warmup=0)

    def test_eager_reasons(self):
        cost = _cost("cpu")
        G = torch.full((1, 3, 6, 5), 0.5, dtype=torch.float64, requires_grad=True)
        _, report = lbfgs_steps(cost, G, num_steps=4, cuda_graph=False)
        assert (report.path, report.reason, report.eager_steps) == ("eager", "cuda_graph=False", 4)
        assert report.summary() == "eager (cuda_graph=False): 4 steps"
        assert report.history_size == 3  # at most num_steps - 1 pairs


def _run(cost, steps, **kw):
    G = torch.full((1, 3, 6, 5), 0.5, dtype=torch.float64, requires_grad=True)
    seen: list[int] = []
    terms, report = lbfgs_steps(cost, G, num_steps=steps, after_step=seen.append, **kw)
    return terms, G.detach(), report, seen


class TestGraphPathOnTheCpu:
    """The graph path's flow with an emulated graph: warm-up, one recording, replays."""

    def test_replays_take_the_steps_of_the_eager_loop(self, emulated_graph):
        made, _ = emulated_graph
        cost = _cost("cpu")
        ref_terms, ref_G, _, _ = _run(cost, 12, cuda_graph=False)
        terms, G, report, seen = _run(cost, 12, warmup=3)
        assert len(made) == 1 and made[0].recorded == 1 and made[0].replays == 9
        assert (report.path, report.reason, report.eager_steps, report.replays) == (
            "cuda_graph", "", 3, 9)
        assert report.replay_s is not None and report.capture_s is not None
        assert report.replay_ms_per_step == pytest.approx(1000 * report.replay_s / 9)
        assert report.summary().startswith("cuda_graph: 3 eager + 9 replays, replays alone ")
        assert report.memory == {}  # the allocator's counters exist on CUDA only
        assert seen == list(range(1, 13))
        # the same arithmetic in the same order: identical, not merely close
        assert torch.equal(terms, ref_terms) and torch.equal(G, ref_G)

    def test_too_few_steps_run_eagerly(self, emulated_graph):
        made, _ = emulated_graph
        _, _, report, seen = _run(_cost("cpu"), 4, warmup=3)
        assert made == [] and report.path == "eager" and "too few" in report.reason
        assert seen == [1, 2, 3, 4]

    def test_a_failed_recording_is_reported_and_the_steps_continue(self, emulated_graph):
        made, options = emulated_graph
        options["fail"] = True
        cost = _cost("cpu")
        ref_terms, ref_G, _, _ = _run(cost, 10, cuda_graph=False)
        with pytest.warns(RuntimeWarning, match="operation not permitted when stream is capturing"):
            terms, G, report, seen = _run(cost, 10, warmup=3)
        assert made[0].recorded == 1 and made[0].replays == 0
        assert report.path == "eager" and report.replays == 0 and report.eager_steps == 10
        assert report.reason == (
            "recording failed: RuntimeError: CUDA error: operation not permitted when stream is "
            "capturing (then RuntimeError: CUDA error: operation failed due to a previous error "
            "during capture)")
        assert report.capture_s is not None and report.replay_s is None
        assert report.summary().startswith("eager (recording failed: RuntimeError: ")
        assert seen == list(range(1, 11))
        assert torch.equal(terms, ref_terms) and torch.equal(G, ref_G)


# ---- no host reads in the recorded step ------------------------------------------------------------
# Operations that read a device value back to the host, or copy host data to the device (a
# CUDA graph cannot record them: the capture fails, and lbfgs_steps falls back to ordinary
# steps): .item() and friends, a tensor made from Python data (torch.tensor), a move between
# devices (.to(device) dispatches _to_copy with a device; a no-op on the CPU, so not seen here).
_HOST_READS = {"_local_scalar_dense", "nonzero", "is_nonzero", "masked_select", "_unique2",
               "unique_dim", "unique_consecutive", "equal", "repeat_interleave", "lift_fresh",
               "lift_fresh_copy"}


class _WatchHostReads(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops: collections.Counter = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.__name__.split(".")[0]
        if name in _HOST_READS or (name == "_to_copy" and (kwargs or {}).get("device") is not None):
            self.ops[func.__name__] += 1
        return func(*args, **(kwargs or {}))


def test_the_transfer_step_reads_nothing_back_to_the_host(net, emulated_graph):
    """Every operation of the step that the graph records (the VGG19 objective, its gradient,
    CompactLBFGS, the clamp), watched on each replay: none reads a value back."""
    made, options = emulated_graph
    watchers: list[_WatchHostReads] = []

    @contextlib.contextmanager
    def check():
        watchers.append(_WatchHostReads())
        with watchers[-1]:
            yield

    options["check"] = check
    g = torch.Generator().manual_seed(0)
    C, S = torch.rand(3, 32, 32, generator=g), torch.rand(3, 32, 32, generator=g)
    objective = TransferObjective(net, C, [S], TransferConfig(size=32, tv_weight=1.0), (32, 32))
    G = C[None].clone().requires_grad_()
    terms, report = lbfgs_steps(objective.with_terms, G, num_steps=7, warmup=2)
    assert report.path == "cuda_graph" and report.replays == 5 and len(watchers) == 5
    assert [dict(w.ops) for w in watchers] == [{}] * 5
    assert torch.isfinite(terms[:, 1:]).all()


def test_the_watch_sees_a_host_read():
    """The watch above is not blind: indexing by a 0-dim tensor reads it back (.item())."""
    S, ptr = torch.rand(4, 3), torch.tensor(2)
    with _WatchHostReads() as w:
        S[ptr]
        S + torch.tensor([1.0, 2.0, 3.0])
        S.to("meta")
    assert w.ops == {"_local_scalar_dense.default": 1, "lift_fresh.default": 1,
                     "_to_copy.default": 1}


def test_compact_lbfgs_runs_on_the_meta_device():
    """On ``meta`` tensors (shapes, no values) any read of a value raises: the steps read none."""
    x = torch.zeros(10, device="meta")
    opt = CompactLBFGS(x, history_size=3)
    for _ in range(5):
        opt.step(torch.ones(10, device="meta"))
    assert x.device.type == "meta"


def test_steps_report_example():
    r = StepsReport("cuda_graph", eager_steps=3, replays=10, history_size=12, warmup_s=0.03,
                    capture_s=0.01, replay_s=0.02)
    assert r.replay_ms_per_step == pytest.approx(2.0)
    assert r.summary() == ("cuda_graph: 3 eager + 10 replays, replays alone 2.00 ms/step, "
                           "warm-up 10.00 ms/step, recording 10.0 ms")
