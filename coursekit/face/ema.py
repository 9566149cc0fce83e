"""An exponential moving average (EMA) of a model's weights, used in place of the last weights.

After each optimiser step the averaged copy moves a little towards the live weights,
``avg <- d avg + (1 - d) w`` (Polyak & Juditsky, "Acceleration of Stochastic Approximation by
Averaging", 1992; the weight EMA of Tarvainen & Valpola, "Mean teachers", 2017). The average
smooths out the noise of the last mini-batch steps, which matters on a training set as small as
30 Olivetti people. As in TensorFlow's ``ExponentialMovingAverage(num_updates=...)``, the decay
of update ``n`` is ``min(d, (1 + n) / (10 + n))``, so the randomly initialised weights the
average starts from are forgotten within the first few dozen steps. Floating-point buffers
(BatchNorm's running mean and variance) are averaged in the same way; integer buffers
(``num_batches_tracked``) are copied.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["ModelEMA", "ema_decay_at", "ema_update_"]


def ema_decay_at(decay: float, num_updates: int) -> float:
    """The decay of update ``num_updates`` (0-based): ``min(decay, (1 + n) / (10 + n))``.

    Example:
        >>> ema_decay_at(0.99, 0), ema_decay_at(0.99, 10_000)
        (0.1, 0.99)
    """
    if not 0.0 <= decay < 1.0 or num_updates < 0:
        raise ValueError(f"need 0 <= decay < 1 and num_updates >= 0, got {decay} and {num_updates}")
    return min(decay, (1 + num_updates) / (10 + num_updates))


@torch.no_grad()
def ema_update_(average: nn.Module, model: nn.Module, *, decay: float) -> None:
    """Move ``average``'s weights towards ``model``'s in place: ``avg <- decay avg + (1 - decay) w``.

    Parameters and floating-point buffers are averaged, other buffers copied. The two modules
    must have the same architecture (the same ``state_dict`` keys and shapes).

    Args:
        average: the running average (changed in place).
        model: the live model (unchanged).
        decay: ``d`` in [0, 1]; 0 copies ``model``, 1 leaves ``average`` as it is.

    Example:
        >>> avg, live = nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)
        >>> _ = nn.init.zeros_(avg.weight), nn.init.ones_(live.weight)
        >>> ema_update_(avg, live, decay=0.9)
        >>> round(avg.weight.item(), 4)
        0.1
    """
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"decay must lie in [0, 1], got {decay}")
    avg_state, live_state = average.state_dict(), model.state_dict()
    if avg_state.keys() != live_state.keys():
        raise ValueError("average and model must have the same state_dict keys")
    for key, a in avg_state.items():
        w = live_state[key]
        if a.shape != w.shape:
            raise ValueError(f"{key}: average has shape {tuple(a.shape)}, model {tuple(w.shape)}")
        if a.is_floating_point():
            a.lerp_(w.to(a.dtype), 1.0 - decay)  # a + (1 - d) (w - a) = d a + (1 - d) w
        else:
            a.copy_(w)


class ModelEMA(nn.Module):
    """A frozen copy of ``model`` that :meth:`update` keeps at the EMA of its weights.

    Args:
        model: the model to average (copied at construction, which starts the average).
        decay: ``d``, the decay once warmed up (:func:`ema_decay_at`): the average spans
            roughly the last ``1 / (1 - d)`` updates.

    Shape:
        - as ``model``; :meth:`forward` calls the averaged copy ``self.module``.

    Example:
        >>> live = nn.Linear(2, 1)
        >>> ema = ModelEMA(live, decay=0.9)
        >>> ema.update(live)  # unchanged weights: the average is still the weights
        >>> torch.equal(ema.module.weight, live.weight), ema.num_updates
        (True, 1)
    """

    def __init__(self, model: nn.Module, *, decay: float = 0.99) -> None:
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must lie in [0, 1), got {decay}")
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = float(decay)
        self.num_updates = 0

    def update(self, model: nn.Module) -> None:
        """One EMA step towards ``model``'s current weights."""
        ema_update_(self.module, model, decay=ema_decay_at(self.decay, self.num_updates))
        self.num_updates += 1

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)
