"""L-BFGS for style transfer, one step per gradient, in the compact form: no host synchronisation.

Neural style transfer minimises J(G) over the pixels of G with L-BFGS (Gatys et al. 2016), one
gradient per step. ``torch.optim.LBFGS`` computes the direction with the two-loop recursion over
its history of pairs (s_i = x_{i+1} - x_i, y_i = g_{i+1} - g_i): 2m small dot products and
updates, each read back to Python, so on a GPU a step waits on the host hundreds of times.
:class:`CompactLBFGS` computes the same direction d = -H g with the compact representation of the
inverse-Hessian estimate (Byrd, Nocedal & Schnabel, "Representations of quasi-Newton matrices
and their use in limited memory methods", Math. Programming 63, 1994; Nocedal & Wright,
*Numerical Optimization*, eq. 7.24):

    H = γ I + [S  γY] [[R⁻ᵀ (D + γ YᵀY) R⁻¹, -R⁻ᵀ], [-R⁻¹, 0]] [Sᵀ; γ Yᵀ]

with S, Y the (N, m) histories (oldest first), R the upper triangle of SᵀY, D its diagonal and
γ = s·y / y·y of the newest pair. One pass over the history for every dot product of the step
(Sᵀg, Yᵀg and the new pair's row and column of SᵀY and YᵀY), two (m, m) triangular solves and
one more pass to combine the direction: a fixed sequence of tensor operations whatever the
data, with nothing read back to the host, so a step can be recorded once in a CUDA graph and
replayed (see ``graphed.py``).

The steps equal ``torch.optim.LBFGS(params, lr, max_iter=1, history_size=m)`` called once per
gradient (no line search), except that the pair (s, y) uses the step x really took: with a clamp
to [0, 1] after each step, as style transfer does, that is the step after the clamp.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["CompactLBFGS"]


class CompactLBFGS:
    """L-BFGS on one flat tensor, every quantity kept on its device (capturable in a CUDA graph).

    Args:
        x: ``(N,)`` the variable, updated in place by :meth:`step`.
        lr: the step length (``torch.optim.LBFGS``'s ``lr``; the first step is
            ``min(1, 1 / ||g||_1) * lr``, as there).
        history_size: m, the number of (s, y) pairs kept.

    Shape:
        ``x``, ``grad``: ``(N,)``; the history ``S``, ``Y``: ``(m, N)``, rows in slot order, the
        two halves of one ``(2m, N)`` buffer ``pairs`` (so that each step reads the history
        twice: once for all its dot products, once to combine the direction).

    Example:
        Minimise ½ xᵀAx - bᵀx; L-BFGS finds A⁻¹b:

        >>> A = torch.tensor([[3.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
        >>> b = torch.tensor([1.0, 1.0], dtype=torch.float64)
        >>> x = torch.zeros(2, dtype=torch.float64)
        >>> opt = CompactLBFGS(x, history_size=5)
        >>> for _ in range(10):
        ...     opt.step(A @ x - b)
        >>> torch.allclose(x, torch.linalg.solve(A, b))
        True
    """

    def __init__(self, x: Tensor, *, lr: float = 1.0, history_size: int = 100):
        if not isinstance(x, Tensor) or x.ndim != 1:
            raise ValueError(f"x must be a flat tensor (N,), got {getattr(x, 'shape', type(x))}")
        if not x.is_floating_point():
            raise ValueError(f"x must be floating point, got {x.dtype}")
        if not (isinstance(lr, (int, float)) and lr > 0 and lr == lr and lr != float("inf")):
            raise ValueError(f"lr must be a positive finite number, got {lr!r}")
        if isinstance(history_size, bool) or not isinstance(history_size, int) or history_size < 1:
            raise ValueError(f"history_size must be a positive int, got {history_size!r}")
        m, n = history_size, x.numel()
        self.x, self.lr, self.m = x, float(lr), m
        like = {"device": x.device, "dtype": x.dtype}
        small = {"device": x.device, "dtype": torch.float64}  # the (m, m) algebra in float64
        self.pairs = torch.zeros(2 * m, n, **like)  # s_i in row i, y_i in row m + i
        self.SY = torch.zeros(m, m, **small)  # s_i . y_j
        self.YY = torch.zeros(m, m, **small)  # y_i . y_j
        self.filled = torch.zeros(m, dtype=torch.bool, device=x.device)
        self.ptr = torch.zeros((), dtype=torch.long, device=x.device)  # the next slot to write
        self.gamma = torch.ones((), **small)
        self.first = torch.ones((), dtype=torch.bool, device=x.device)
        self.x_prev = torch.zeros_like(x)
        self.g_prev = torch.zeros_like(x)
        self._arange = torch.arange(m, device=x.device)

    @property
    def S(self) -> Tensor:
        """``(m, N)`` the steps s_i, row i for slot i (a view of :attr:`pairs`)."""
        return self.pairs[: self.m]

    @property
    def Y(self) -> Tensor:
        """``(m, N)`` the gradient changes y_i, row i for slot i (a view of :attr:`pairs`)."""
        return self.pairs[self.m :]

    def step(self, grad: Tensor) -> None:
        """One step from ``x`` along d = -H ``grad`` (``grad``: ``(N,)``, the gradient at ``x``)."""
        x = self.x
        if grad.shape != x.shape:
            raise ValueError(f"grad must have x's shape {tuple(x.shape)}, got {tuple(grad.shape)}")
        g = grad.detach()
        Sg, Yg = self._remember(x - self.x_prev, g - self.g_prev, g)
        d = -self._inverse_hessian_times(g, Sg, Yg)
        # the step length: min(1, 1/|g|_1) * lr the first time, lr after; no step where d does not
        # descend (torch.optim.LBFGS's tolerance_change) or the gradient vanished (tolerance_grad)
        first_t = torch.clamp(1.0 / g.abs().sum(), max=1.0)
        t = torch.where(self.first, first_t, torch.ones_like(first_t)) * self.lr
        descends = (g @ d < -1e-9) & (g.abs().max() > 1e-7)
        self.x_prev.copy_(x)
        self.g_prev.copy_(g)
        x.add_(torch.where(descends, t, torch.zeros_like(t)).to(x.dtype) * d)
        self.first.fill_(False)

    # ---- the history ---------------------------------------------------------------------------
    def _remember(self, s: Tensor, y: Tensor, g: Tensor) -> tuple[Tensor, Tensor]:
        """Store the pair (s, y) in the next slot, if it is not the first step and s·y > 1e-10;
        return ``(Sᵀg, Yᵀg)`` ``(m,)`` float64 for the new history, in slot order."""
        sy = (s @ y).double()
        keep = (~self.first) & (sy > 1e-10)
        slot = self.ptr.view(1)  # (1,): never index with the 0-dim ``ptr``, ``S[ptr]`` reads it
        # back to the host (``.item()``), which a CUDA graph cannot record
        s_new = torch.where(keep, s, self.S.index_select(0, slot).view(-1))  # (N,): unchanged
        y_new = torch.where(keep, y, self.Y.index_select(0, slot).view(-1))  # if the pair is dropped
        self.S.index_copy_(0, slot, s_new.view(1, -1))
        self.Y.index_copy_(0, slot, y_new.view(1, -1))
        # every product of the step in one pass over the history: (2m, 3) =
        # [[Sᵀy_new, Sᵀs_new, Sᵀg], [Yᵀy_new, Yᵀs_new, Yᵀg]]
        m = self.m
        P = (self.pairs @ torch.stack([y_new, s_new, g], dim=1)).double()
        col_sy = P[:m, 0]  # (m,): s_i . y_new
        row_sy = P[m:, 1]  # (m,): s_new . y_j
        col_yy = P[m:, 0]  # (m,): y_i . y_new
        self.SY.index_copy_(1, slot, col_sy.view(-1, 1))
        self.SY.index_copy_(0, slot, row_sy.view(1, -1))
        self.YY.index_copy_(1, slot, col_yy.view(-1, 1))
        self.YY.index_copy_(0, slot, col_yy.view(1, -1))
        yy = col_yy.index_select(0, slot).view(())
        self.gamma.copy_(torch.where(keep, sy / yy, self.gamma))
        self.filled.copy_(self.filled | (keep & (self._arange == self.ptr)))
        self.ptr.copy_(torch.where(keep, (self.ptr + 1) % self.m, self.ptr))
        return P[:m, 2], P[m:, 2]

    def _inverse_hessian_times(self, g: Tensor, Sg: Tensor, Yg: Tensor) -> Tensor:
        """H g by the compact representation (module docstring); H = I before any pair.
        ``Sg``, ``Yg``: ``(m,)`` Sᵀg and Yᵀg in slot order."""
        order = (self.ptr + self._arange) % self.m  # slots, oldest first (empty slots harmless)
        SY = self.SY[order][:, order]
        YY = self.YY[order][:, order]
        empty = ~self.filled[order]
        gamma = self.gamma
        # R: the upper triangle of SᵀY, with 1 on the diagonal of empty slots (their rows and
        # columns are zero, so they add nothing but keep R invertible)
        R = torch.triu(SY) + torch.diag(empty.double())
        D = torch.diag(torch.diagonal(SY))
        a = Sg[order]  # (m,): Sᵀg, oldest first
        b = Yg[order]  # (m,): Yᵀg
        p = torch.linalg.solve_triangular(R, a.view(-1, 1), upper=True)  # R⁻¹ Sᵀg
        v = (D + gamma * YY) @ p - gamma * b.view(-1, 1)
        top = torch.linalg.solve_triangular(R.T, v, upper=False)  # (m, 1)
        coef_s = torch.zeros_like(a).index_copy_(0, order, top.view(-1))  # back to slot order
        coef_y = torch.zeros_like(a).index_copy_(0, order, -gamma * p.view(-1))
        coef = torch.cat([coef_s, coef_y]).to(g.dtype)  # (2m,), the rows of ``pairs``
        return gamma.to(g.dtype) * g + coef @ self.pairs
