"""Style-transfer steps on a GPU without waiting on Python: L-BFGS recorded once in a CUDA graph.

One step of style transfer is a VGG19 forward and backward pass, an L-BFGS update of G and the
clamp to [0, 1]. On a GPU the arithmetic of a step can take less time than launching its few
hundred kernels from Python, and ``torch.optim.LBFGS`` reads its dot products back to the host
on every step: the step is launch-bound. :func:`lbfgs_steps` runs the same steps with
:class:`~coursekit.style.lbfgs.CompactLBFGS` (no host synchronisation) and, on CUDA, records one
whole step in a CUDA graph after a few ordinary ones and replays it: one launch per step.
Elsewhere, and when recording fails, the steps run one by one, the same arithmetic; the returned
:class:`StepsReport` says which path ran and why, and recording failures also warn.

Memory, by construction (what ``torch.cuda.max_memory_allocated`` should show against
``torch.optim.LBFGS`` run for as many steps with the same ``history_size``):

- the history: ``CompactLBFGS`` allocates its ``min(history_size, num_steps - 1)`` pairs at once,
  as many as ``torch.optim.LBFGS`` holds after ``num_steps`` steps, plus the previous x and
  gradient (``torch.optim.LBFGS``: the previous gradient and the direction), so its last step
  holds the same number of ``(N,)`` vectors;
- one step is recorded, not several: the graph's private memory pool holds one step's
  activations and temporaries, freed within the recording and reused by later operations of it;
  after recording, the pool stays *reserved* (replays write into it) but no longer counts as
  *allocated*;
- one extra stream only: the warm-up steps run on the stream the graph is recorded on
  (``torch.cuda.graph``'s own capture stream, one per process). cuBLAS keeps a workspace per
  (handle, stream) for the life of the process, so a new side stream per call would cost a new
  workspace each time;
- after a failed recording, its tensors are released before the remaining steps run (its
  memory pool may stay reserved: PyTorch releases a graph's pool only after a completed
  capture), and the stream that was current before it is current again.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor

from coursekit.style.lbfgs import CompactLBFGS

__all__ = ["StepsReport", "lbfgs_steps"]


@dataclass
class StepsReport:
    """How :func:`lbfgs_steps` ran.

    Attributes:
        path: ``"cuda_graph"`` (one step recorded, then replayed) or ``"eager"`` (every step run
            one by one).
        reason: for ``"eager"``, why: ``"cuda_graph=False"``, the device, too few steps, or
            ``"recording failed: <exception>"``; empty for ``"cuda_graph"``.
        eager_steps: steps run one by one (the warm-up steps before recording, or all).
        replays: steps run as replays of the recorded graph.
        history_size: the L-BFGS pairs allocated.
        warmup_s: device seconds of the steps before recording (graph path only).
        capture_s: host seconds spent recording the graph, failed or not (graph path only).
        replay_s: device seconds of all replays together (the first included), timed by events
            on the stream: the steady state, without warm-up and recording; ``None`` without
            replays.
        memory: on CUDA, per phase (``"start"``, ``"warmup"``: after the warm-up steps,
            ``"capture"``: after recording, ``"end"``), the bytes ``"allocated"`` then,
            ``"peak"`` allocated so far (``torch.cuda.max_memory_allocated``, since the caller's
            last reset) and ``"reserved"`` by the allocator, graph pools included.

    Example:
        >>> r = StepsReport("eager", "cuda_graph=False", eager_steps=5, replays=0, history_size=4)
        >>> r.summary()
        'eager (cuda_graph=False): 5 steps'
    """

    path: str
    reason: str = ""
    eager_steps: int = 0
    replays: int = 0
    history_size: int = 0
    warmup_s: float | None = None
    capture_s: float | None = None
    replay_s: float | None = None
    memory: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def replay_ms_per_step(self) -> float | None:
        """Milliseconds per replayed step (``replay_s / replays``), or ``None``."""
        if not self.replays or self.replay_s is None:
            return None
        return 1000.0 * self.replay_s / self.replays

    def summary(self) -> str:
        """One line: the path, the step counts and, for a graph, its times."""
        if self.path != "cuda_graph":
            return f"eager ({self.reason}): {self.eager_steps} steps"
        parts = [f"cuda_graph: {self.eager_steps} eager + {self.replays} replays"]
        if self.replay_ms_per_step is not None:
            parts.append(f"replays alone {self.replay_ms_per_step:.2f} ms/step")
        if self.warmup_s is not None and self.eager_steps:
            parts.append(f"warm-up {1000.0 * self.warmup_s / self.eager_steps:.2f} ms/step")
        if self.capture_s is not None:
            parts.append(f"recording {1000.0 * self.capture_s:.1f} ms")
        return ", ".join(parts)


class _CudaGraph:
    """One CUDA graph on ``device``: warm-up and recording on one capture stream, replays on the
    current stream, device time from CUDA events."""

    def __init__(self, device: torch.device):
        self.device = device
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.device(device):
            capture = torch.cuda.graph(self.graph)  # torch's capture stream, created once
            if capture.capture_stream.device != device:  # created for another GPU
                capture = torch.cuda.graph(self.graph, stream=torch.cuda.Stream(device))
        self.capture = capture

    @contextlib.contextmanager
    def warmup(self) -> Iterator[None]:
        """Run the enclosed (ordinary) steps on the capture stream, as recording asks."""
        stream, current = self.capture.capture_stream, torch.cuda.current_stream(self.device)
        stream.wait_stream(current)
        with torch.cuda.stream(stream):
            yield
        current.wait_stream(stream)

    def record(self, fn: Callable[[], object]) -> None:
        current = torch.cuda.current_stream(self.device)
        try:
            with torch.cuda.device(self.device), self.capture:
                fn()  # recorded, not run
        except BaseException:
            # a failed capture_end skips torch.cuda.graph's own stream restore: the capture
            # stream would stay current for everything after
            torch.cuda.set_stream(current)
            raise

    def replay(self) -> None:
        self.graph.replay()

    def mark(self, in_warmup: bool = False) -> torch.cuda.Event:
        event = torch.cuda.Event(enable_timing=True)
        stream = self.capture.capture_stream if in_warmup else torch.cuda.current_stream(self.device)
        event.record(stream)
        return event

    @staticmethod
    def seconds(start: torch.cuda.Event, end: torch.cuda.Event) -> float:
        end.synchronize()
        return start.elapsed_time(end) / 1000.0


def _memory(device: torch.device) -> dict[str, int] | None:
    """The CUDA allocator's counters now (host-side, no synchronisation); ``None`` off CUDA."""
    if device.type != "cuda":
        return None
    return {"allocated": torch.cuda.memory_allocated(device),
            "peak": torch.cuda.max_memory_allocated(device),
            "reserved": torch.cuda.memory_reserved(device)}


def _first_cause(err: BaseException) -> str:
    """``"Type: first line"`` of the error that started ``err``'s chain (a failed operation in
    a capture is followed by capture_end's own, less telling, error), then ``err``'s if other."""

    def line(e: BaseException) -> str:
        text = str(e).strip().splitlines()
        return f"{type(e).__name__}: {text[0] if text else ''}".rstrip(": ")

    root = err
    while (root.__cause__ or root.__context__) is not None:
        root = root.__cause__ or root.__context__
    return line(root) if root is err else f"{line(root)} (then {line(err)})"


def _new_graph(device: torch.device) -> _CudaGraph | None:
    """A CUDA graph recorder for ``device``, or ``None`` where there are no CUDA graphs."""
    return _CudaGraph(device) if device.type == "cuda" else None


def lbfgs_steps(
    loss_and_terms: Callable[[Tensor], tuple[Tensor, Tensor]],
    G: Tensor,
    *,
    num_steps: int,
    lr: float = 1.0,
    history_size: int = 100,
    cuda_graph: bool = True,
    warmup: int = 2,
    after_step: Callable[[int], object] | None = None,
) -> tuple[Tensor, StepsReport]:
    """Minimise ``loss_and_terms(G)[0]`` over ``G`` by L-BFGS, clamping G to [0, 1] after each step.

    Args:
        loss_and_terms: ``G -> (J, terms)``: the scalar cost to minimise and a ``(K,)`` tensor of
            values to record each step. It must not read values back to the host (no
            ``.item()``, no ``bool(tensor)``, no indexing by a 0-dim tensor) when a CUDA graph is
            recorded.
        G: ``(B, C, H, W)`` contiguous leaf tensor with ``requires_grad``; updated in place.
        num_steps: steps (one forward and backward pass each).
        lr, history_size: as for ``torch.optim.LBFGS``; the history holds at most
            ``num_steps - 1`` pairs, so no more is allocated.
        cuda_graph: on CUDA, record one step in a graph after ``warmup`` ordinary ones and
            replay it for the remaining steps.
        warmup: ordinary steps before recording, on the capture stream: every kernel of the
            step has run once (the step is the same sequence of operations each time), cuDNN and
            cuBLAS have picked their kernels and allocated their workspaces. Each costs an
            ordinary (launch-bound) step.
        after_step: called with the step number (1, 2, ...) after each step, e.g. to take a
            snapshot of G or advance a progress bar.

    Returns:
        ``(terms, report)``: ``(num_steps, K)`` the recorded terms, on the CPU (read back once,
        at the end), and a :class:`StepsReport` saying which path ran. If recording fails, the
        remaining steps run one by one and a ``RuntimeWarning`` names the error.

    Example:
        >>> target = torch.tensor([[0.2, 0.9], [0.5, 1.5]])
        >>> G = torch.zeros(1, 1, 2, 2, requires_grad=True)
        >>> def cost(G):
        ...     J = ((G[0, 0] - target) ** 2).sum()
        ...     return J, J.detach().view(1)
        >>> terms, report = lbfgs_steps(cost, G, num_steps=10)
        >>> terms.shape, G[0, 0].tolist()  # 1.5 clamped to 1
        (torch.Size([10, 1]), [[0.2..., 0.9...], [0.5..., 1.0]])
        >>> report.summary()
        'eager (no CUDA graphs on cpu): 10 steps'
    """
    if not isinstance(G, Tensor) or not G.requires_grad or not G.is_leaf or not G.is_contiguous():
        raise ValueError("G must be a contiguous leaf tensor with requires_grad=True")
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"num_steps must be a positive int, got {num_steps!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 1:
        raise ValueError(f"warmup must be a positive int, got {warmup!r}")
    x = G.detach().view(-1)  # shares G's storage: the optimiser moves G
    m = max(1, min(history_size, num_steps - 1))
    opt = CompactLBFGS(x, lr=lr, history_size=m)

    def step() -> Tensor:
        loss, terms = loss_and_terms(G)
        (grad,) = torch.autograd.grad(loss, G)
        opt.step(grad.reshape(-1))
        x.clamp_(0.0, 1.0)
        return terms.detach()

    records: list[Tensor] = []

    def record(terms: Tensor) -> None:
        records.append(terms.clone())
        if after_step is not None:
            after_step(len(records))

    def eager(report: StepsReport) -> tuple[Tensor, StepsReport]:
        while len(records) < num_steps:
            record(step())
            report.eager_steps += 1
        return torch.stack(records).cpu(), report

    if not cuda_graph:
        return eager(StepsReport("eager", "cuda_graph=False", history_size=m))
    if num_steps <= warmup + 1:
        reason = f"num_steps={num_steps}: too few to record after warmup={warmup}"
        return eager(StepsReport("eager", reason, history_size=m))
    graph = _new_graph(G.device)
    if graph is None:
        return eager(StepsReport("eager", f"no CUDA graphs on {G.device.type}", history_size=m))

    report = StepsReport("cuda_graph", history_size=m)

    def phase(name: str) -> None:
        counters = _memory(G.device)
        if counters is not None:
            report.memory[name] = counters

    phase("start")
    with graph.warmup():
        start = graph.mark(in_warmup=True)
        for _ in range(warmup):
            record(step())
            report.eager_steps += 1
        end = graph.mark(in_warmup=True)
    report.warmup_s = graph.seconds(start, end)
    phase("warmup")
    static_terms = records[-1].clone()  # the graph's output: each replay writes its terms here

    def recorded_step() -> None:
        static_terms.copy_(step())

    failure = ""
    t0 = time.perf_counter()
    try:
        graph.record(recorded_step)
    except Exception as err:  # an operation that cannot be recorded (e.g. a host read)
        failure = _first_cause(err)
    report.capture_s = time.perf_counter() - t0  # err and its traceback are released by now
    phase("capture")
    if failure:
        del graph, recorded_step  # the graph's memory pool with them
        if G.is_cuda:
            torch.cuda.synchronize(G.device)
        report.path, report.reason = "eager", f"recording failed: {failure}"
        warnings.warn(f"lbfgs_steps could not record a CUDA graph ({failure}); the remaining "
                      f"{num_steps - len(records)} steps run one by one", RuntimeWarning,
                      stacklevel=2)
        out = eager(report)
        phase("end")
        return out

    start = graph.mark()
    while len(records) < num_steps:
        graph.replay()
        report.replays += 1
        record(static_terms)
    end = graph.mark()
    terms = torch.stack(records).cpu()
    report.replay_s = graph.seconds(start, end)
    phase("end")
    return terms, report
