"""Training and evaluating a 3-D ConvNet classifier on volumes (lesson 4.11, MedMNIST 3-D).

Minibatch Adam with cross-entropy and a one-cycle learning-rate schedule of a fixed number of
epochs, random flips along the three axes and small random shifts as augmentation, and class
probabilities for ROC AUC and accuracy as in the MedMNIST v2 benchmark (Yang et al. 2023).
The model ends with the weights of the last epoch, where the schedule has annealed the learning
rate to almost zero; a validation split is scored after every epoch to watch the training (the
recipe, not an epoch, is chosen by validation; the test split is only for reporting).
``flips=True`` averages the probabilities over the eight flips of each volume (test-time
augmentation, matching the flips seen in training).
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from torch import nn
from tqdm.auto import tqdm

from coursekit.runtime import get_device

__all__ = ["predict_proba", "train_volume_classifier"]


def _random_flips(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Flip each volume of (B, C, D, H, W) along each spatial axis with probability 1/2."""
    flips = torch.rand(x.shape[0], 3, generator=generator) < 0.5  # (B, 3)
    flips = flips.to(x.device).view(-1, 3, 1, 1, 1, 1)  # one copy to the device, no host reads
    out = x
    for axis in range(3):
        out = torch.where(flips[:, axis], out.flip(2 + axis), out)
    return out


def _random_shifts(x: torch.Tensor, max_shift: int, generator: torch.Generator | None) -> torch.Tensor:
    """Translate each volume of (B, C, D, H, W) by up to ``max_shift`` voxels along each spatial
    axis (uniform integer shifts, zeros shifted in)."""
    shifts = torch.randint(-max_shift, max_shift + 1, (x.shape[0], 3), generator=generator)  # (B, 3)
    m = max_shift
    padded = F.pad(x, (m, m, m, m, m, m))  # (B, C, D+2m, H+2m, W+2m)
    # volume i is padded[i, :, m + a_i : m + a_i + D, ...]: one gather for the whole batch
    start = (shifts + m).to(x.device)  # (B, 3)
    B, d, h, w = x.shape[0], *x.shape[2:]
    z = (start[:, 0, None] + torch.arange(d, device=x.device)).view(B, d, 1, 1)
    y = (start[:, 1, None] + torch.arange(h, device=x.device)).view(B, 1, h, 1)
    xx = (start[:, 2, None] + torch.arange(w, device=x.device)).view(B, 1, 1, w)
    batch = torch.arange(B, device=x.device).view(B, 1, 1, 1)
    return padded.movedim(1, -1)[batch, z, y, xx].movedim(-1, 1)  # (B, D, H, W, C) -> (B, C, D, H, W)


def train_volume_classifier(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    num_epochs: int = 5,
    batch_size: int = 32,
    lr: float = 3e-3,
    augment: bool = True,
    max_shift: int = 2,
    val: tuple[torch.Tensor, torch.Tensor] | None = None,
    flips: bool = False,
    device: str | torch.device | None = None,
    generator: torch.Generator | None = None,
    progress: bool = True,
) -> dict[str, list[float]]:
    """Fit ``model`` to ``(images, labels)`` with Adam (one-cycle schedule) and cross-entropy.

    Args:
        model: maps (B, C, D, H, W) to logits (B, K).
        images: (N, C, D, H, W).
        labels: (N,) int64 class indices.
        num_epochs, batch_size, lr: the optimisation.
        augment: random flips along D, H and W, and random shifts.
        max_shift: with ``augment``, each volume moves by up to this many voxels along each
            axis (0: flips only).
        val: optional validation ``(images, labels)`` with two classes: its ROC AUC is measured
            after every epoch (the model still ends with the weights of the last epoch).
        flips: measure the validation AUC with :func:`predict_proba`'s ``flips``.
        device: where to train (``None``: best available).
        generator: shuffles and augments.
        progress: show a progress bar.

    Returns:
        ``{"loss": [...]}`` per step and ``{"epoch_loss": [...]}`` per epoch; with ``val`` also
        ``{"val_auc": [...]}`` per epoch.

    Example:
        >>> from coursekit.conv import VolumeNet
        >>> g = torch.Generator().manual_seed(0)
        >>> images, labels = torch.randn(4, 1, 8, 8, 8, generator=g), torch.tensor([0, 1, 0, 1])
        >>> model = VolumeNet(width=2)
        >>> history = train_volume_classifier(model, images, labels, num_epochs=2, batch_size=2,
        ...                                   device="cpu", generator=g, progress=False)
        >>> len(history["loss"]), len(history["epoch_loss"]), model.training
        (4, 2, False)
    """
    if images.dim() != 5 or labels.shape != images.shape[:1]:
        raise ValueError(f"need images (N, C, D, H, W) and labels (N,), got {tuple(images.shape)} "
                         f"and {tuple(labels.shape)}")
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0, got {max_shift}")
    if val is not None:
        val_images, val_labels = val
        if val_images.shape[1:] != images.shape[1:] or val_labels.shape != val_images.shape[:1]:
            raise ValueError(f"val must be images (N, {', '.join(map(str, images.shape[1:]))}) and "
                             f"labels (N,), got {tuple(val_images.shape)} and {tuple(val_labels.shape)}")
        if set(val_labels.tolist()) != {0, 1}:
            raise ValueError(f"val labels must hold both classes 0 and 1 (ROC AUC), got "
                             f"{sorted(set(val_labels.tolist()))}")
    device = get_device(device)
    model.to(device).train()
    n = images.shape[0]
    steps_per_epoch = (n + batch_size - 1) // batch_size
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=num_epochs * steps_per_epoch)
    history: dict[str, list[float]] = {"loss": [], "epoch_loss": []}
    if val is not None:
        history["val_auc"] = []
    for _ in tqdm(range(num_epochs), disable=not progress, desc="3-D CNN"):
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            x = images[idx]
            if augment:
                x = _random_flips(x, generator)
                if max_shift:
                    x = _random_shifts(x, max_shift, generator)
            loss = F.cross_entropy(model(x.to(device)), labels[idx].to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            history["loss"].append(float(loss.detach()))
            total += history["loss"][-1] * len(idx)
        history["epoch_loss"].append(total / n)
        if val is not None:
            p_val = predict_proba(model, val_images, batch_size=batch_size, flips=flips,
                                  device=device)[:, 1]
            history["val_auc"].append(float(roc_auc_score(val_labels.cpu().numpy(), p_val.numpy())))
            model.train()
    model.eval()
    return history


@torch.no_grad()
def predict_proba(
    model: nn.Module,
    images: torch.Tensor,
    *,
    batch_size: int = 64,
    flips: bool = False,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Class probabilities (N, K) of ``model`` (in eval mode) on ``images`` (N, C, D, H, W).

    Args:
        model: maps (B, C, D, H, W) to logits (B, K).
        images: (N, C, D, H, W).
        batch_size: volumes per forward pass.
        flips: average the probabilities over the eight flips of each volume (none, each
            axis, each pair of axes, all three): test-time augmentation.
        device: where to run (``None``: best available).

    Returns:
        (N, K) probabilities on the CPU, rows summing to 1.

    Example:
        >>> from coursekit.conv import VolumeNet
        >>> predict_proba(VolumeNet(), torch.zeros(3, 1, 8, 8, 8), device="cpu").shape
        torch.Size([3, 2])
        >>> predict_proba(VolumeNet(), torch.zeros(3, 1, 8, 8, 8), flips=True, device="cpu").shape
        torch.Size([3, 2])
    """
    if images.dim() != 5:
        raise ValueError(f"expected volumes (N, C, D, H, W), got shape {tuple(images.shape)}")
    device = get_device(device)
    model.to(device).eval()
    axes_sets = ([axes for r in range(4) for axes in itertools.combinations((2, 3, 4), r)]
                 if flips else [()])
    total = None
    for axes in axes_sets:
        chunks = []
        for i in range(0, images.shape[0], batch_size):
            x = images[i : i + batch_size].to(device)
            chunks.append(torch.softmax(model(x.flip(axes) if axes else x), dim=1).cpu())
        p = torch.cat(chunks)  # (N, K)
        total = p if total is None else total + p
    return total / len(axes_sets)
