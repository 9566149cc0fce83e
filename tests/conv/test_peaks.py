"""R-peak targets, scoring, the detector's training on a synthetic ECG, and its amplitude
augmentation (``gain``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from coursekit.conv import (
    ECGPeakNet,
    detect_r_peaks,
    normalize_ecg,
    peak_detection_scores,
    r_peak_targets,
    train_peak_detector,
)
from coursekit.data import synthetic_ecg

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


def test_peak_scores():
    s = peak_detection_scores(np.array([5, 100, 103]), np.array([0, 100, 200]), tolerance=5)
    assert (s["tp"], s["fp"], s["fn"]) == (2, 1, 1)
    perfect = peak_detection_scores(np.arange(0, 1000, 100), np.arange(0, 1000, 100) + 3, tolerance=3)
    assert perfect["f1"] == 1.0
    assert peak_detection_scores(np.array([]), np.array([]), tolerance=3)["f1"] == 0.0


def test_targets_peak_at_annotations():
    t = r_peak_targets(100, np.array([10, 50, 99]))
    assert t.shape == (100,) and t[10] == 1 and t[50] == 1 and t[99] == 1 and t[30] < 1e-3


def test_peak_detector_learns_synthetic_ecg():
    rec = synthetic_ecg(40.0, seed=5)
    x = normalize_ecg(rec.signal)
    peaks, _ = rec.beats()
    torch.manual_seed(0)  # the weights' initialisation: not whatever an earlier test left
    model = ECGPeakNet(width=8)
    g = torch.Generator().manual_seed(0)
    split = 30 * rec.fs
    hist = train_peak_detector(model, x[:, :split], r_peak_targets(x.shape[1], peaks)[:split],
                               window=720, batch_size=8, num_steps=40, lr=1e-2, device="cpu",
                               generator=g, progress=False)
    assert hist["loss"][-1] < hist["loss"][0]
    det, prob = detect_r_peaks(model, x[:, split:], fs=rec.fs, device="cpu")
    assert prob.shape == (x.shape[1] - split,)
    scores = peak_detection_scores(det, peaks[peaks >= split] - split, tolerance=18)
    assert scores["f1"] > 0.8
