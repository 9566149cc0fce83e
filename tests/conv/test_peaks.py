"""train_peak_detector's amplitude augmentation (``gain``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from coursekit.conv import r_peak_targets, train_peak_detector

LENGTH, WINDOW = 400, 50
SIGNAL = torch.linspace(1.0, 2.0, LENGTH)  # a line: each crop tells its own start and scale


class _Recorder(nn.Module):
    """A 1x1 convolution that keeps every batch it is given."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, 1)
        self.inputs: list[torch.Tensor] = []

    def forward(self, x):
        self.inputs.append(x.detach().clone())
        return self.conv(x)


def _windows(gain, steps=3):
    """The (steps * B, window) inputs the model saw while training with ``gain``."""
    model = _Recorder()
    train_peak_detector(model, SIGNAL.unsqueeze(0), r_peak_targets(LENGTH, np.array([100, 300])),
                        window=WINDOW, batch_size=8, num_steps=steps, gain=gain, device="cpu",
                        generator=torch.Generator().manual_seed(0), progress=False)
    return torch.cat(model.inputs)[:, 0]


def _factors(windows):
    """Scale of each window (its slope over the line's) and check it is a scaled crop."""
    factors = (windows[:, 1] - windows[:, 0]) / (SIGNAL[1] - SIGNAL[0])
    for w, c in zip(windows, factors):
        crop = w / c
        start = int(torch.argmin((SIGNAL - crop[0]).abs()))
        torch.testing.assert_close(crop, SIGNAL[start:start + WINDOW], rtol=1e-4, atol=1e-4)
    return factors


def test_no_gain_feeds_plain_crops():
    torch.testing.assert_close(_factors(_windows(None)), torch.ones(24), rtol=1e-3, atol=1e-3)


def test_gain_scales_each_window_by_one_factor_in_range():
    factors = _factors(_windows((0.5, 2.0)))
    assert factors.min() >= 0.5 - 1e-3 and factors.max() <= 2.0 + 1e-3
    assert factors.std() > 0.1  # not one factor for all


def test_fixed_gain_multiplies_exactly():
    torch.testing.assert_close(_factors(_windows((2.0, 2.0))), torch.full((24,), 2.0), rtol=1e-3,
                               atol=1e-3)


@pytest.mark.parametrize("gain", [(0.0, 1.0), (2.0, 1.0), (-1.0, 1.0)])
def test_bad_gain(gain):
    with pytest.raises(ValueError, match="gain"):
        _windows(gain, steps=1)
