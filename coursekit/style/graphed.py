"""Style-transfer steps on a GPU without waiting on Python: L-BFGS recorded once in a CUDA graph.

One step of style transfer is a VGG19 forward and backward pass, an L-BFGS update of G and the
clamp to [0, 1]. On a GPU the arithmetic of a step takes about a millisecond, but launching its
few hundred kernels from Python, and ``torch.optim.LBFGS`` reading its dot products back to the
host, take several: the step is launch-bound. :func:`lbfgs_steps` runs the same steps with
:class:`~coursekit.style.lbfgs.CompactLBFGS` (no host synchronisation) and, on CUDA, records one
whole step in a CUDA graph after a few ordinary ones and replays it: one launch per step.
Elsewhere (and if recording fails) the steps run one by one, the same arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from coursekit.style.lbfgs import CompactLBFGS

__all__ = ["lbfgs_steps"]


def lbfgs_steps(
    loss_and_terms: Callable[[Tensor], tuple[Tensor, Tensor]],
    G: Tensor,
    *,
    num_steps: int,
    lr: float = 1.0,
    history_size: int = 100,
    cuda_graph: bool = True,
    warmup: int = 3,
    after_step: Callable[[int], object] | None = None,
) -> Tensor:
    """Minimise ``loss_and_terms(G)[0]`` over ``G`` by L-BFGS, clamping G to [0, 1] after each step.

    Args:
        loss_and_terms: ``G -> (J, terms)``: the scalar cost to minimise and a ``(K,)`` tensor of
            values to record each step. It must not read values back to the host (no
            ``.item()``) when a CUDA graph is recorded.
        G: ``(B, C, H, W)`` contiguous leaf tensor with ``requires_grad``; updated in place.
        num_steps: steps (one forward and backward pass each).
        lr, history_size: as for ``torch.optim.LBFGS``; the history holds at most
            ``num_steps - 1`` pairs, so no more is allocated.
        cuda_graph: on CUDA, record one step in a graph after ``warmup`` ordinary ones.
        warmup: ordinary steps before recording (cuDNN and cuBLAS pick their kernels).
        after_step: called with the step number (1, 2, ...) after each step, e.g. to take a
            snapshot of G or advance a progress bar.

    Returns:
        ``(num_steps, K)`` the recorded terms, on the CPU (read back once, at the end).

    Example:
        >>> target = torch.tensor([[0.2, 0.9], [0.5, 1.5]])
        >>> G = torch.zeros(1, 1, 2, 2, requires_grad=True)
        >>> def cost(G):
        ...     J = ((G[0, 0] - target) ** 2).sum()
        ...     return J, J.detach().view(1)
        >>> terms = lbfgs_steps(cost, G, num_steps=10)
        >>> terms.shape, G[0, 0].tolist()  # 1.5 clamped to 1
        (torch.Size([10, 1]), [[0.2..., 0.9...], [0.5..., 1.0]])
    """
    if not isinstance(G, Tensor) or not G.requires_grad or not G.is_leaf or not G.is_contiguous():
        raise ValueError("G must be a contiguous leaf tensor with requires_grad=True")
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"num_steps must be a positive int, got {num_steps!r}")
    x = G.detach().view(-1)  # shares G's storage: the optimiser moves G
    opt = CompactLBFGS(x, lr=lr, history_size=max(1, min(history_size, num_steps - 1)))

    def step() -> Tensor:
        loss, terms = loss_and_terms(G)
        (grad,) = torch.autograd.grad(loss, G)
        opt.step(grad.reshape(-1))
        x.clamp_(0.0, 1.0)
        return terms.detach()

    records: list[Tensor] = []
    done = 0

    def record(terms: Tensor) -> None:
        nonlocal done
        records.append(terms.clone())
        done += 1
        if after_step is not None:
            after_step(done)

    use_graph = cuda_graph and G.is_cuda and num_steps > warmup + 1
    if not use_graph:
        for _ in range(num_steps):
            record(step())
        return torch.stack(records).cpu()

    side = torch.cuda.Stream(device=G.device)
    side.wait_stream(torch.cuda.current_stream(G.device))
    with torch.cuda.stream(side):  # ordinary steps on a side stream, as graph capture asks
        for _ in range(warmup):
            record(step())
    torch.cuda.current_stream(G.device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    try:
        with torch.cuda.graph(graph):
            static_terms = step()  # recorded, not run
    except RuntimeError:  # an operation that cannot be recorded: run the rest one by one
        torch.cuda.synchronize(G.device)
        for _ in range(num_steps - done):
            record(step())
        return torch.stack(records).cpu()
    while done < num_steps:
        graph.replay()
        record(static_terms)
    return torch.stack(records).cpu()
