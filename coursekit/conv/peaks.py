"""R-peak detection with a 1-D ConvNet (lesson 4.11): targets, training, detection and scoring.

The network predicts, for every ECG sample, the probability that an R peak lies there; the
target is a narrow Gaussian bump around each annotated beat. Peaks of the predicted probability
(above a threshold, at least a refractory period apart) are the detections. They are scored as
in the QRS-detection literature (ANSI/AAMI EC57): a detection within ±tolerance of an annotated
beat is a true positive, each beat matches at most one detection; F1 = 2TP / (2TP + FP + FN).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.signal import find_peaks
from torch import nn
from tqdm.auto import tqdm

from coursekit.runtime import get_device

__all__ = ["detect_r_peaks", "normalize_ecg", "peak_detection_scores", "r_peak_targets",
           "train_peak_detector"]


def normalize_ecg(signal: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Centre an ECG on its median and scale by its interquartile range, per lead.

    Args:
        signal: (L,) or (L, C).

    Returns:
        (C, L) float32 tensor.

    Example:
        >>> normalize_ecg(np.array([0.0, 1.0, 2.0, 3.0, 4.0])).tolist()
        [[-1.0, -0.5, 0.0, 0.5, 1.0]]
    """
    x = torch.as_tensor(np.asarray(signal), dtype=torch.float32)
    x = x.unsqueeze(1) if x.dim() == 1 else x  # (L, C)
    q = torch.quantile(x[:: max(1, x.shape[0] // 100_000)], torch.tensor([0.25, 0.5, 0.75]), dim=0)
    return ((x - q[1]) / (q[2] - q[0]).clamp_min(1e-6)).T.contiguous()


def r_peak_targets(length: int, peaks: np.ndarray, *, sigma: float = 4.0) -> torch.Tensor:
    """A per-sample target: a Gaussian bump of height 1 and width ``sigma`` at each R peak.

    Example:
        >>> r_peak_targets(7, np.array([3]), sigma=1.0).numpy().round(2).tolist()
        [0.01, 0.14, 0.61, 1.0, 0.61, 0.14, 0.01]
    """
    t = torch.zeros(length)
    radius = int(4 * sigma)
    offsets = torch.arange(-radius, radius + 1)
    bump = torch.exp(-0.5 * (offsets / sigma) ** 2)
    for p in np.asarray(peaks, dtype=np.int64):
        idx = offsets + int(p)
        keep = (idx >= 0) & (idx < length)
        t[idx[keep]] = torch.maximum(t[idx[keep]], bump[keep])
    return t


def train_peak_detector(
    model: nn.Module,
    signal: torch.Tensor,
    targets: torch.Tensor,
    *,
    window: int = 2048,
    batch_size: int = 32,
    num_steps: int = 200,
    lr: float = 1e-2,
    pos_weight: float = 3.0,
    gain: tuple[float, float] | None = None,
    device: str | torch.device | None = None,
    generator: torch.Generator | None = None,
    progress: bool = True,
) -> dict[str, list[float]]:
    """Train ``model`` on random windows of a long ECG with Adam and a weighted BCE loss.

    Args:
        model: maps (B, C, window) to logits (B, 1, window).
        signal: (C, L) normalised ECG (see :func:`normalize_ecg`).
        targets: (L,) values in [0, 1] (see :func:`r_peak_targets`).
        window: length of each training crop in samples.
        batch_size, num_steps, lr: the optimisation.
        pos_weight: weight of the rare peak samples in the BCE loss (a few percent of an ECG's
            samples with the default targets); too large a weight widens the detected bumps.
        gain: ``(low, high)``: multiply each training window by a factor drawn log-uniformly
            from this range (amplitude augmentation: electrode placement, the body and the
            per-record normalisation change the height of the QRS complex between patients,
            and a network that never saw other heights may key on the height alone).
            ``None``: no augmentation.
        device: where to train (``None``: best available).
        generator: draws the crop positions (and the gains).
        progress: show a progress bar.

    Returns:
        ``{"loss": [...]}``, one value per step.

    Example:
        >>> from coursekit.conv import ECGPeakNet
        >>> g = torch.Generator().manual_seed(0)
        >>> signal = torch.randn(1, 1000, generator=g)  # (C, L), a stand-in for a normalised ECG
        >>> targets = r_peak_targets(1000, np.array([100, 400, 700]))  # (L,)
        >>> history = train_peak_detector(ECGPeakNet(width=4, dilations=(1, 2)), signal, targets,
        ...                               window=256, batch_size=4, num_steps=2, device="cpu",
        ...                               generator=g, progress=False)
        >>> len(history["loss"])
        2
    """
    if signal.dim() != 2 or targets.shape != signal.shape[1:]:
        raise ValueError(f"need signal (C, L) and targets (L,), got {tuple(signal.shape)} and "
                         f"{tuple(targets.shape)}")
    if signal.shape[1] < window:
        raise ValueError(f"signal length {signal.shape[1]} is shorter than the window {window}")
    if gain is not None and not 0 < gain[0] <= gain[1]:
        raise ValueError(f"gain must be (low, high) with 0 < low <= high, got {gain}")
    device = get_device(device)
    model.to(device).train()
    signal, targets = signal.to(device), targets.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=num_steps)
    weight = torch.tensor(pos_weight, device=device)
    offsets = torch.arange(window, device=device)
    history: dict[str, list[float]] = {"loss": []}
    for _ in tqdm(range(num_steps), disable=not progress, desc="ECG peaks"):
        starts = torch.randint(0, signal.shape[1] - window + 1, (batch_size,), generator=generator)
        idx = starts.to(device)[:, None] + offsets  # (B, window)
        x = signal[:, idx].transpose(0, 1)  # (B, C, window)
        if gain is not None:
            u = torch.rand(batch_size, 1, 1, generator=generator).to(device)  # (B, 1, 1)
            x = x * (gain[0] * (gain[1] / gain[0]) ** u)
        y = targets[idx].unsqueeze(1)  # (B, 1, window)
        loss = F.binary_cross_entropy_with_logits(model(x), y, pos_weight=weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        history["loss"].append(float(loss.detach()))
    model.eval()
    return history


@torch.no_grad()
def detect_r_peaks(
    model: nn.Module,
    signal: torch.Tensor,
    *,
    fs: float,
    threshold: float = 0.5,
    refractory_s: float = 0.2,
    device: str | torch.device | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """R peaks found by ``model`` on a whole (normalised) ECG.

    Args:
        model: a trained per-sample peak network.
        signal: (C, L) normalised ECG.
        fs: sampling rate in Hz.
        threshold: minimum peak probability.
        refractory_s: minimum time between two detections.

    Returns:
        ``(peaks, probability)``: detected sample indices (N,) and the per-sample probability (L,).

    Example:
        >>> logits = torch.full((1, 720), -5.0)  # (C, L): nn.Identity stands in for a trained net
        >>> logits[0, [100, 130, 400]] = torch.tensor([4.0, 2.0, 5.0])  # 130 is within 0.2 s of 100
        >>> peaks, prob = detect_r_peaks(nn.Identity(), logits, fs=360, device="cpu")
        >>> peaks.tolist(), prob.shape
        ([100, 400], (720,))
    """
    device = get_device(device)
    model.to(device).eval()
    prob = torch.sigmoid(model(signal.to(device).unsqueeze(0)))[0, 0].cpu().numpy()
    peaks, _ = find_peaks(prob, height=threshold, distance=max(1, int(refractory_s * fs)))
    return peaks.astype(np.int64), prob


def peak_detection_scores(detected: np.ndarray, reference: np.ndarray, *, tolerance: int) -> dict:
    """Match detections to reference beats within ±``tolerance`` samples (one-to-one, greedy).

    Returns:
        ``{"tp", "fp", "fn", "precision", "recall", "f1"}``.

    Example:
        >>> s = peak_detection_scores(np.array([10, 52, 300]), np.array([12, 50, 100]), tolerance=5)
        >>> s["tp"], s["fp"], s["fn"], round(s["f1"], 3)
        (2, 1, 1, 0.667)
    """
    detected, reference = np.sort(np.asarray(detected)), np.sort(np.asarray(reference))
    used = np.zeros(len(detected), dtype=bool)
    tp = 0
    for r in reference:
        lo, hi = np.searchsorted(detected, [r - tolerance, r + tolerance + 1])
        free = [i for i in range(lo, hi) if not used[i]]
        if free:
            best = min(free, key=lambda i: abs(int(detected[i]) - int(r)))
            used[best] = True
            tp += 1
    fp, fn = len(detected) - tp, len(reference) - tp
    precision = tp / max(tp + fp, 1)
    recall = tp / max(tp + fn, 1)
    f1 = 2 * tp / max(2 * tp + fp + fn, 1)
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1}
