"""ECGPeakNet and VolumeNet: shapes, the convnd flag, training smoke tests, peak scoring."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from coursekit.conv import (
    ECGPeakNet,
    VolumeNet,
    conv_layer,
    detect_r_peaks,
    normalize_ecg,
    peak_detection_scores,
    predict_proba,
    r_peak_targets,
    train_peak_detector,
    train_volume_classifier,
)
from coursekit.data import synthetic_adrenal, synthetic_ecg


@pytest.mark.parametrize("batch", [1, 3])
def test_shapes(batch, device):
    assert ECGPeakNet(in_channels=2).to(device)(torch.randn(batch, 2, 500, device=device)).shape == (
        batch, 1, 500)
    assert VolumeNet(num_classes=3).to(device)(torch.randn(batch, 1, 16, 16, 16, device=device)).shape == (
        batch, 3)


@pytest.mark.parametrize("cls,shape", [(ECGPeakNet, (2, 1, 300)), (VolumeNet, (2, 1, 12, 12, 12))])
def test_convnd_flag_gives_the_same_function(cls, shape):
    torch.manual_seed(0)
    ref, mine = cls(), cls(use_convnd=True)
    mine.load_state_dict(ref.state_dict())
    ref.eval()
    mine.eval()
    x = torch.randn(shape)
    torch.testing.assert_close(mine(x), ref(x), rtol=1e-4, atol=1e-5)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"\(B, C, L\)"):
        ECGPeakNet()(torch.zeros(1, 100))
    with pytest.raises(ValueError, match=r"\(B, C, D, H, W\)"):
        VolumeNet()(torch.zeros(1, 8, 8, 8))
    with pytest.raises(ValueError, match="odd"):
        ECGPeakNet(kernel_size=4)
    with pytest.raises(ValueError, match="n_dims"):
        conv_layer(4, 1, 1, 3)


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


def test_volume_classifier_trains():
    data = synthetic_adrenal(12, n_train=32, n_val=2, n_test=8)
    x, y = data.split("train")
    model = VolumeNet(width=4)
    hist = train_volume_classifier(model, x, y, num_epochs=2, batch_size=8, device="cpu",
                                   generator=torch.Generator().manual_seed(0), progress=False)
    assert len(hist["epoch_loss"]) == 2 and len(hist["loss"]) == 8
    p = predict_proba(model, data.split("test")[0], device="cpu")
    torch.testing.assert_close(p.sum(1), torch.ones(8))
    with pytest.raises(ValueError, match="labels"):
        train_volume_classifier(model, x, y[:3], progress=False)
